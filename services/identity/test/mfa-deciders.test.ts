// Given events, when a command, then events (or a refusal): recovery codes and turning TOTP off, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MfaStateError } from '@vigil/identity-contract';
import { newRecoveryCode, newRecoveryCodes, recoveryCodeHash } from '../src/recovery-code.ts';
import { isLocked, userDecider, type SecondFactor, type UserCommand } from '../src/user.ts';
import { given, types, when } from './given.ts';

const u1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const s1 = '01890a5d-ac96-774b-bcce-b302099a8059';
const e1 = '01890a5d-ac96-774b-bcce-b302099a805a';
const now = Date.parse('2026-01-01T00:10:00Z');
const policy = { threshold: 5, lockMs: 15 * 60_000 };
const session = { id: s1, expiresAt: now + 3_600_000 };
const h = (c: string) => c.repeat(64);
const [c1, c2, c3] = [h('1'), h('2'), h('3')];

const created = { type: 'auth.user.created', v: 1, data: { user_id: u1, username: 'mia', email_sha256: h('a'), email: { kek_id: 'k1', sealed: 'AAAA' }, roles: ['viewer'] } };
const password = { type: 'auth.user.password_set', v: 1, data: { password_hash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', by: 'admin' } };
const enrolled = { type: 'auth.user.mfa_enrolled', v: 1, data: { enrollment_id: e1, secret: { kek_id: 'k1', sealed: 'AAAA' } } };
const confirmed = { type: 'auth.user.mfa_confirmed', v: 1, data: { enrollment_id: e1, step: 100, recovery_codes_sha256: [c1, c2] } };
const withMfa = [created, password, enrolled, confirmed];
const recovery = (sha256: string): UserCommand => ({ kind: 'recovery_attempt', sha256, now, session, policy });
const reauth = (second: SecondFactor, change: Extract<UserCommand, { kind: 'mfa_reauth' }>['change'] = { kind: 'disable' }, passwordMatched = true, passwordVersion = 1): UserCommand => ({
  kind: 'mfa_reauth',
  change,
  passwordMatched,
  passwordVersion,
  second,
  now,
  policy,
});
const dataOf = (drafts: readonly { data: unknown }[]) => drafts.map((d) => d.data);

describe('recovery codes', () => {
  test('given TOTP confirmed with codes, when a code is used at the MFA step, then a login that spends it in the same event', () => {
    const state = given(userDecider, withMfa);
    assert.deepEqual(state.recoveryCodes, new Set([c1, c2]));
    assert.deepEqual(dataOf(when(userDecider, state, recovery(c1))), [{ session_id: s1, expires_at: new Date(session.expiresAt).toISOString(), mfa: true, recovery_code_sha256: c1 }]);
  });

  test('each code once: used again it is a replay; an unknown one is wrong; both count with TOTP failures toward the lock', () => {
    const used = given(userDecider, [...withMfa, { type: 'auth.user.logged_in', v: 1, data: { session_id: s1, expires_at: new Date(now + 1000).toISOString(), mfa: true, recovery_code_sha256: c1 } }]);
    assert.deepEqual(used.recoveryCodes, new Set([c2]));
    assert.deepEqual(dataOf(when(userDecider, used, recovery(c1))), [{ factor: 'totp', reason: 'replayed' }]);
    assert.deepEqual(dataOf(when(userDecider, used, recovery(c3))), [{ factor: 'totp', reason: 'wrong' }]);
    const wrongCode = { type: 'auth.user.login_failed', v: 1, data: { factor: 'totp', reason: 'wrong' } };
    const four = given(userDecider, [...withMfa, wrongCode, wrongCode, wrongCode, wrongCode]);
    const fifth = when(userDecider, four, recovery(c3));
    const locked = given(userDecider, [...withMfa, wrongCode, wrongCode, wrongCode, wrongCode, ...fifth]);
    assert.ok(isLocked(locked, now));
    assert.deepEqual(when(userDecider, locked, recovery(c2)), [], 'a locked account: even a good code is not tried');
  });

  test('without TOTP a recovery code means nothing', () => {
    assert.deepEqual(when(userDecider, given(userDecider, [created, password]), recovery(c1)), []);
  });

  test('codes: 80 random bits, grouped for writing down, hashed per tenant and user, case and hyphens ignored', () => {
    const code = newRecoveryCode();
    assert.match(code, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    assert.equal(recoveryCodeHash('acme', u1, code), recoveryCodeHash('acme', u1, code.toUpperCase().replaceAll('-', '')));
    assert.notEqual(recoveryCodeHash('acme', u1, code), recoveryCodeHash('acme', s1, code), 'salted with the user');
    const { codes, hashes } = newRecoveryCodes('acme', u1);
    assert.equal(new Set(codes).size, 10);
    assert.deepEqual(hashes, codes.map((c) => recoveryCodeHash('acme', u1, c)));
  });
});

describe('re-authentication to change MFA', () => {
  const state = given(userDecider, withMfa);

  test('turning TOTP off needs the password and a fresh second factor; it spends the TOTP step and drops secret and codes', () => {
    assert.deepEqual(dataOf(when(userDecider, state, reauth({ kind: 'totp', step: 101 }))), [{ totp_step: 101 }]);
    const off = given(userDecider, [...withMfa, { type: 'auth.user.mfa_disabled', v: 1, data: { totp_step: 101 } }]);
    assert.equal(off.mfa, undefined);
    assert.equal(off.recoveryCodes.size, 0);
    assert.equal(off.lastTotpStep, 101, 'steps already used stay used, should TOTP come back');
    assert.deepEqual(types(when(userDecider, off, { kind: 'password_attempt', matched: true, passwordVersion: 1, now, session, policy })), ['auth.user.logged_in'], 'the password alone signs in');
    assert.throws(() => when(userDecider, off, reauth({ kind: 'totp', step: 102 })), MfaStateError);
    assert.deepEqual(types(when(userDecider, state, reauth({ kind: 'recovery_code', sha256: c2 }))), ['auth.user.mfa_disabled'], 'a recovery code will do');
  });

  test('a wrong password, a wrong or replayed code are failed attempts; a locked account or a stale check records nothing', () => {
    assert.deepEqual(dataOf(when(userDecider, state, reauth({ kind: 'totp', step: 101 }, { kind: 'disable' }, false))), [{ factor: 'password', reason: 'wrong' }]);
    assert.deepEqual(dataOf(when(userDecider, state, reauth({ kind: 'totp', step: undefined }))), [{ factor: 'totp', reason: 'wrong' }]);
    assert.deepEqual(dataOf(when(userDecider, state, reauth({ kind: 'totp', step: 100 }))), [{ factor: 'totp', reason: 'replayed' }], 'the confirming step is spent');
    assert.deepEqual(dataOf(when(userDecider, state, reauth({ kind: 'recovery_code', sha256: c3 }))), [{ factor: 'totp', reason: 'wrong' }]);
    const locked = given(userDecider, [...withMfa, { type: 'auth.user.login_failed', v: 1, data: { factor: 'password', reason: 'wrong', locked_until: new Date(now + 60_000).toISOString() } }]);
    assert.deepEqual(when(userDecider, locked, reauth({ kind: 'totp', step: 101 })), []);
    assert.deepEqual(when(userDecider, state, reauth({ kind: 'totp', step: 101 }, { kind: 'disable' }, true, 0)), [], 'checked against an older password');
  });

  test('new recovery codes replace every earlier one, used or not', () => {
    const drafts = when(userDecider, state, reauth({ kind: 'recovery_code', sha256: c1 }, { kind: 'regenerate', codes: [c3] }));
    assert.deepEqual(dataOf(drafts), [{ codes_sha256: [c3] }]);
    const renewed = given(userDecider, [...withMfa, ...drafts]);
    assert.deepEqual(renewed.recoveryCodes, new Set([c3]));
    assert.deepEqual(dataOf(when(userDecider, renewed, recovery(c2))), [{ factor: 'totp', reason: 'wrong' }], 'an old code no longer works');
    assert.deepEqual(types(when(userDecider, renewed, recovery(c3))), ['auth.user.logged_in']);
    assert.ok(renewed.mfa, 'TOTP stays on');
  });
});
