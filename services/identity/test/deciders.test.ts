// Given events, when a command, then events (or a refusal): the identity rules, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MfaFailedError, MfaStateError, NameTakenError, QuotaExceededError, TenantExistsError, TenantUnavailableError } from '@vigil/identity-contract';
import { claimDecider } from '../src/claim.ts';
import { isLive, sessionDecider } from '../src/session.ts';
import { tenantDecider } from '../src/tenant.ts';
import { isLocked, sessionsOverLimit, userDecider, type UserCommand } from '../src/user.ts';
import { given, types, when } from './given.ts';

const u1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const u2 = '01890a5d-ac96-774b-bcce-b302099a8058';
const s1 = '01890a5d-ac96-774b-bcce-b302099a8059';
const s2 = '01890a5d-ac96-774b-bcce-b302099a805a';
const hash = (c: string) => c.repeat(64);

describe('tenant', () => {
  const created = { type: 'auth.tenant.created', v: 1, data: { tenant_id: 'acme', name: 'Acme', max_users: 2 } };
  test('given nothing, when created, then tenant created; when created again, then refused', () => {
    assert.deepEqual(types(when(tenantDecider, given(tenantDecider, []), { kind: 'create', tenantId: 'acme', name: 'Acme', maxUsers: 2, maxApiKeys: 3, maxDevices: 4, plan: 'standard' })), ['auth.tenant.created']);
    assert.throws(() => when(tenantDecider, given(tenantDecider, [created]), { kind: 'create', tenantId: 'acme', name: 'Acme', maxUsers: 2, maxApiKeys: 3, maxDevices: 4, plan: 'standard' }), TenantExistsError);
  });
  test('the user quota: seats up to max_users, then refused; a released seat is free again', () => {
    const full = given(tenantDecider, [created, { type: 'auth.tenant.seat_taken', v: 1, data: { user_id: u1 } }, { type: 'auth.tenant.seat_taken', v: 1, data: { user_id: u2 } }]);
    assert.throws(() => when(tenantDecider, full, { kind: 'take_seat', userId: s1 }), QuotaExceededError);
    assert.deepEqual(when(tenantDecider, full, { kind: 'take_seat', userId: u1 }), [], 'taking a held seat again is a no-op');
    const freed = given(tenantDecider, [created, { type: 'auth.tenant.seat_taken', v: 1, data: { user_id: u1 } }, { type: 'auth.tenant.seat_taken', v: 1, data: { user_id: u2 } }, { type: 'auth.tenant.seat_released', v: 1, data: { user_id: u2 } }]);
    assert.deepEqual(types(when(tenantDecider, freed, { kind: 'take_seat', userId: s1 })), ['auth.tenant.seat_taken']);
  });
  test('a suspended or unknown tenant takes no users', () => {
    const suspended = given(tenantDecider, [created, { type: 'auth.tenant.suspended', v: 1, data: { reason: 'unpaid' } }]);
    assert.throws(() => when(tenantDecider, suspended, { kind: 'take_seat', userId: u1 }), TenantUnavailableError);
    assert.throws(() => when(tenantDecider, given(tenantDecider, []), { kind: 'take_seat', userId: u1 }), TenantUnavailableError);
    assert.deepEqual(when(tenantDecider, suspended, { kind: 'suspend', tenantId: 'acme', reason: 'again' }), []);
  });
});

describe('unique name claim', () => {
  test('the first claim wins; another user is refused; the holder claiming again is a no-op; released, it is free', () => {
    assert.deepEqual(types(when(claimDecider, given(claimDecider, []), { kind: 'claim', userId: u1, what: 'username' })), ['auth.claim.taken']);
    const held = given(claimDecider, [{ type: 'auth.claim.taken', v: 1, data: { user_id: u1 } }]);
    assert.throws(() => when(claimDecider, held, { kind: 'claim', userId: u2, what: 'username' }), (e: unknown) => e instanceof NameTakenError && /username/.test(e.message));
    assert.deepEqual(when(claimDecider, held, { kind: 'claim', userId: u1, what: 'username' }), []);
    assert.deepEqual(when(claimDecider, held, { kind: 'release', userId: u2 }), [], 'only the holder releases');
    const released = given(claimDecider, [{ type: 'auth.claim.taken', v: 1, data: { user_id: u1 } }, { type: 'auth.claim.released', v: 1, data: { user_id: u1 } }]);
    assert.deepEqual(types(when(claimDecider, released, { kind: 'claim', userId: u2, what: 'username' })), ['auth.claim.taken']);
  });
});

describe('user credentials and lockout', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  const policy = { threshold: 5, lockMs: 15 * 60_000 };
  const session = { id: s1, expiresAt: now + 3_600_000 };
  const created = { type: 'auth.user.created', v: 1, data: { user_id: u1, username: 'alice', email_sha256: hash('a'), email: { kek_id: 'k1', sealed: 'AAAA' }, roles: ['viewer'] } };
  const password = { type: 'auth.user.password_set', v: 1, data: { password_hash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', by: 'admin' } };
  const wrong = { type: 'auth.user.login_failed', v: 1, data: { factor: 'password', reason: 'wrong' } };
  const attempt = (matched: boolean, over: Partial<Extract<UserCommand, { kind: 'password_attempt' }>> = {}): UserCommand => ({ kind: 'password_attempt', matched, passwordVersion: 1, now, session, policy, ...over });

  test('given a user with a password, when the right password comes, then logged in with a session', () => {
    const drafts = when(userDecider, given(userDecider, [created, password]), attempt(true));
    assert.deepEqual(types(drafts), ['auth.user.logged_in']);
  });

  test('given 4 failures, when the 5th wrong password comes, then the same event counts it and locks for 15 minutes', () => {
    const four = given(userDecider, [created, password, wrong, wrong, wrong, wrong]);
    assert.equal(four.failures.password, 4);
    const drafts = when(userDecider, four, attempt(false));
    assert.equal(drafts.length, 1);
    assert.deepEqual(drafts[0]?.data, { factor: 'password', reason: 'wrong', locked_until: new Date(now + policy.lockMs).toISOString() });
    const locked = given(userDecider, [created, password, wrong, wrong, wrong, wrong, { type: 'auth.user.login_failed', v: 1, data: drafts[0]?.data }]);
    assert.ok(isLocked(locked, now));
    assert.equal(isLocked(locked, now + policy.lockMs), false, 'the lock ends by itself');
  });

  test('given a locked account, when any attempt comes (even the right password), then nothing is recorded and it stays locked', () => {
    const locked = given(userDecider, [created, password, { type: 'auth.user.login_failed', v: 1, data: { factor: 'password', reason: 'wrong', locked_until: new Date(now + 60_000).toISOString() } }]);
    assert.deepEqual(when(userDecider, locked, attempt(true)), []);
    assert.deepEqual(when(userDecider, locked, attempt(false)), []);
    assert.deepEqual(types(when(userDecider, locked, attempt(true, { now: now + 61_000 }))), ['auth.user.logged_in']);
  });

  test('a success starts the count again; a check against an old password counts for nothing', () => {
    const afterSuccess = given(userDecider, [created, password, wrong, wrong, wrong, wrong, { type: 'auth.user.logged_in', v: 1, data: { session_id: s1, expires_at: new Date(now + 1000).toISOString(), mfa: false } }]);
    assert.equal(afterSuccess.failures.password, 0);
    assert.deepEqual(when(userDecider, afterSuccess, attempt(false))[0]?.data, { factor: 'password', reason: 'wrong' }, 'one failure after a success does not lock');
    assert.deepEqual(when(userDecider, given(userDecider, [created, password, password]), attempt(true)), [], 'password changed since it was checked');
  });

  test('a disabled user or one with no password set never signs in', () => {
    assert.deepEqual(when(userDecider, given(userDecider, [created, password, { type: 'auth.user.disabled', v: 1, data: { reason: 'left' } }]), attempt(true)), []);
    assert.deepEqual(when(userDecider, given(userDecider, []), attempt(true, { passwordVersion: 0 })), []);
  });

  const enrolled = { type: 'auth.user.mfa_enrolled', v: 1, data: { enrollment_id: s2, secret: { kek_id: 'k1', sealed: 'AAAA' } } };
  const confirmed = { type: 'auth.user.mfa_confirmed', v: 1, data: { enrollment_id: s2, step: 100 } };
  const totp = (step: number | undefined): UserCommand => ({ kind: 'totp_attempt', step, now, session, policy });

  test('given TOTP enabled, when the right password comes, then nothing yet: the second factor decides', () => {
    assert.deepEqual(when(userDecider, given(userDecider, [created, password, enrolled, confirmed]), attempt(true)), []);
  });

  test('TOTP: a code is accepted once; its step and every earlier one are refused after', () => {
    const mfa = given(userDecider, [created, password, enrolled, confirmed]);
    const ok = when(userDecider, mfa, totp(101));
    assert.deepEqual(ok.map((d) => d.data), [{ session_id: s1, expires_at: new Date(session.expiresAt).toISOString(), mfa: true, totp_step: 101 }]);
    const used = given(userDecider, [created, password, enrolled, confirmed, ...ok]);
    assert.equal(used.lastTotpStep, 101);
    assert.deepEqual(when(userDecider, used, totp(101)).map((d) => d.data), [{ factor: 'totp', reason: 'replayed' }]);
    assert.deepEqual(when(userDecider, used, totp(100)).map((d) => d.data), [{ factor: 'totp', reason: 'replayed' }]);
    assert.deepEqual(when(userDecider, used, totp(undefined)).map((d) => d.data), [{ factor: 'totp', reason: 'wrong' }]);
    assert.deepEqual(when(userDecider, mfa, totp(100)).map((d) => d.data), [{ factor: 'totp', reason: 'replayed' }], 'the confirming code is spent too');
  });

  test('failed TOTP codes are counted apart from passwords and lock at the threshold too', () => {
    const wrongCode = { type: 'auth.user.login_failed', v: 1, data: { factor: 'totp', reason: 'wrong' } };
    const state = given(userDecider, [created, password, wrong, wrong, enrolled, confirmed, wrongCode, wrongCode, wrongCode, wrongCode]);
    assert.deepEqual(state.failures, { password: 2, totp: 4 });
    assert.ok(when(userDecider, state, totp(undefined)).some((d) => typeof d.data === 'object' && d.data !== null && 'locked_until' in d.data));
  });

  test('enrolment: pending until confirmed with a valid code; enrolling twice once enabled is refused', () => {
    const pending = given(userDecider, [created, password, enrolled]);
    assert.equal(pending.mfa, undefined);
    assert.throws(() => when(userDecider, pending, { kind: 'confirm_mfa', enrollmentId: s2, step: undefined, recoveryCodes: [] }), MfaFailedError);
    assert.throws(() => when(userDecider, pending, { kind: 'confirm_mfa', enrollmentId: s1, step: 5, recoveryCodes: [] }), MfaStateError);
    assert.deepEqual(types(when(userDecider, pending, { kind: 'confirm_mfa', enrollmentId: s2, step: 5, recoveryCodes: [] })), ['auth.user.mfa_confirmed']);
    const on = given(userDecider, [created, password, enrolled, confirmed]);
    assert.throws(() => when(userDecider, on, { kind: 'enroll_mfa', enrollmentId: s1, secret: { kek_id: 'k1', sealed: 'BBBB' } }), MfaStateError);
  });

  test('sessions over the limit are the oldest live ones', () => {
    const loggedIn = (id: string, exp: number) => ({ type: 'auth.user.logged_in', v: 1, data: { session_id: id, expires_at: new Date(exp).toISOString(), mfa: false } });
    const ids = ['01890a5d-ac96-774b-bcce-b302099a8061', '01890a5d-ac96-774b-bcce-b302099a8062', '01890a5d-ac96-774b-bcce-b302099a8063'];
    const state = given(userDecider, [created, loggedIn(u2, now - 1), ...ids.map((id) => loggedIn(id, now + 1000))]);
    assert.deepEqual(sessionsOverLimit(state, now, 2), [ids[0]]);
    const ended = given(userDecider, [created, loggedIn(u2, now - 1), ...ids.map((id) => loggedIn(id, now + 1000)), { type: 'auth.user.session_ended', v: 1, data: { session_id: ids[0] } }]);
    assert.deepEqual(sessionsOverLimit(ended, now, 2), []);
  });
});

describe('session and refresh rotation', () => {
  const t0 = new Date('2026-01-01T00:00:00Z');
  const started = { type: 'auth.session.started', v: 1, data: { user_id: u1, roles: ['viewer'], refresh_sha256: hash('a'), expires_at: '2026-01-01T12:00:00.000Z', mfa: false } };
  const refresh = (presented: string, now = t0.getTime() + 60_000) => ({ kind: 'refresh', presented, next: hash('c'), now, idleMs: 3_600_000 }) as const;

  test('given a session, when its current token is presented, then rotated to the next', () => {
    const drafts = when(sessionDecider, given(sessionDecider, [started], t0), refresh(hash('a')));
    assert.deepEqual(drafts.map((d) => d.data), [{ refresh_sha256: hash('c') }]);
  });

  test('given a rotated token, when it is presented again, then the whole session is revoked (reuse)', () => {
    const rotated = given(sessionDecider, [started, { type: 'auth.session.refreshed', v: 1, data: { refresh_sha256: hash('b') } }], t0);
    assert.deepEqual(when(sessionDecider, rotated, refresh(hash('a'))).map((d) => d.data), [{ reason: 'refresh_reuse' }]);
    const revoked = given(sessionDecider, [started, { type: 'auth.session.refreshed', v: 1, data: { refresh_sha256: hash('b') } }, { type: 'auth.session.revoked', v: 1, data: { reason: 'refresh_reuse' } }], t0);
    assert.deepEqual(when(sessionDecider, revoked, refresh(hash('b'))), [], 'even the newest token is dead now');
  });

  test('a token that was never this session’s is refused without touching it', () => {
    assert.deepEqual(when(sessionDecider, given(sessionDecider, [started], t0), refresh(hash('f'))), []);
    assert.deepEqual(when(sessionDecider, given(sessionDecider, []), refresh(hash('a'))), []);
  });

  test('idle timeout and absolute lifetime end the session on the next refresh', () => {
    const s = given(sessionDecider, [started], t0);
    assert.deepEqual(when(sessionDecider, s, refresh(hash('a'), t0.getTime() + 3_600_001)).map((d) => d.data), [{ reason: 'idle_timeout' }]);
    assert.equal(isLive(s, t0.getTime() + 3_600_001, 3_600_000), false);
    assert.deepEqual(when(sessionDecider, s, refresh(hash('a'), Date.parse('2026-01-01T12:00:00Z'))).map((d) => d.data), [{ reason: 'expired' }]);
  });

  test('logout revokes once; revoking again is a no-op', () => {
    const s = given(sessionDecider, [started], t0);
    assert.deepEqual(types(when(sessionDecider, s, { kind: 'revoke', reason: 'logout' })), ['auth.session.revoked']);
    assert.deepEqual(when(sessionDecider, given(sessionDecider, [started, { type: 'auth.session.revoked', v: 1, data: { reason: 'logout' } }], t0), { kind: 'revoke', reason: 'logout' }), []);
  });
});
