// Given events, when a command, then events (or a refusal): administration of users and my own password, no bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { builtInRoles, ForbiddenError, permissionsOf, UserNotFoundError, UserStateError, type Role } from '@vigil/identity-contract';
import { isLocked, mayAttempt, userDecider, type Administrator, type UserCommand } from '../src/user.ts';
import { given, types, when } from './given.ts';

const target = '01890a5d-ac96-774b-bcce-b302099a8057';
const ownerId = '01890a5d-ac96-774b-bcce-b302099a8058';
const adminId = '01890a5d-ac96-774b-bcce-b302099a8059';
const now = Date.parse('2026-01-01T00:10:00Z');
const policy = { threshold: 5, lockMs: 15 * 60_000 };
const hash = (c: string) => c.repeat(64);
const by = (userId: string, roles: Role[]): Administrator => ({ userId, permissions: permissionsOf(roles), catalog: builtInRoles });
const owner = by(ownerId, ['owner']);
const admin = by(adminId, ['admin']);

const created = (roles: Role[]) => ({ type: 'auth.user.created', v: 1, data: { user_id: target, username: 'tom', email_sha256: hash('a'), email: { kek_id: 'k1', sealed: 'AAAA' }, roles } });
const password = { type: 'auth.user.password_set', v: 1, data: { password_hash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', by: 'admin' } };
const wrong = { type: 'auth.user.login_failed', v: 1, data: { factor: 'password', reason: 'wrong' } };
const locking = { type: 'auth.user.login_failed', v: 1, data: { factor: 'password', reason: 'wrong', locked_until: new Date(now + 60_000).toISOString() } };

describe('who may act on a user', () => {
  const commands: Extract<UserCommand, { by: Administrator }>[] = [
    { kind: 'disable', reason: 'left', by: admin },
    { kind: 'unlock', now, by: admin },
    { kind: 'assign_role', role: 'viewer', by: admin },
    { kind: 'revoke_role', role: 'owner', by: admin },
  ];

  test('an admin may not act on an owner (the owner holds audit:read, the admin does not); an owner may', () => {
    const anOwner = given(userDecider, [created(['owner', 'viewer']), password, locking]);
    for (const c of commands) assert.throws(() => when(userDecider, anOwner, c), ForbiddenError, c.kind);
    for (const c of commands) assert.doesNotThrow(() => when(userDecider, anOwner, { ...c, by: owner }), c.kind);
  });

  test('no one acts on their own account; an unknown user is not found', () => {
    const me = given(userDecider, [created(['admin', 'viewer'])]);
    for (const c of commands) assert.throws(() => when(userDecider, me, { ...c, by: by(target, ['owner']) }), UserStateError, c.kind);
    for (const c of commands) assert.throws(() => when(userDecider, given(userDecider, []), c), UserNotFoundError, c.kind);
  });
});

describe('disable', () => {
  test('given a user, when disabled, then disabled once; they may not sign in', () => {
    const user = given(userDecider, [created(['viewer']), password]);
    assert.deepEqual(when(userDecider, user, { kind: 'disable', reason: 'left', by: admin }).map((d) => d.data), [{ reason: 'left' }]);
    const disabled = given(userDecider, [created(['viewer']), password, { type: 'auth.user.disabled', v: 1, data: { reason: 'left' } }]);
    assert.equal(mayAttempt(disabled, now), false);
    assert.deepEqual(when(userDecider, disabled, { kind: 'disable', reason: 'again', by: admin }), []);
  });
});

describe('unlock', () => {
  test('given a locked account, when unlocked, then the lock and the count of failures end', () => {
    const locked = given(userDecider, [created(['viewer']), password, wrong, wrong, locking]);
    assert.ok(isLocked(locked, now));
    assert.deepEqual(types(when(userDecider, locked, { kind: 'unlock', now, by: admin })), ['auth.user.unlocked']);
    const unlocked = given(userDecider, [created(['viewer']), password, wrong, wrong, locking, { type: 'auth.user.unlocked', v: 1, data: {} }]);
    assert.equal(isLocked(unlocked, now), false);
    assert.deepEqual(unlocked.failures, { password: 0, totp: 0 });
  });

  test('given failures below the threshold, unlocking clears them; given nothing to clear, nothing is recorded', () => {
    assert.deepEqual(types(when(userDecider, given(userDecider, [created(['viewer']), wrong]), { kind: 'unlock', now, by: admin })), ['auth.user.unlocked']);
    assert.deepEqual(when(userDecider, given(userDecider, [created(['viewer'])]), { kind: 'unlock', now, by: admin }), []);
  });
});

describe('roles', () => {
  test('a role within my permissions is assigned once; one beyond them (or platform_admin) is refused', () => {
    const viewer = given(userDecider, [created(['viewer'])]);
    assert.deepEqual(when(userDecider, viewer, { kind: 'assign_role', role: 'operator', by: admin }).map((d) => d.data), [{ role: 'operator' }]);
    assert.deepEqual(when(userDecider, viewer, { kind: 'assign_role', role: 'viewer', by: admin }), [], 'held already');
    assert.throws(() => when(userDecider, viewer, { kind: 'assign_role', role: 'owner', by: admin }), ForbiddenError);
    assert.throws(() => when(userDecider, viewer, { kind: 'assign_role', role: 'platform_admin', by: owner }), ForbiddenError);
    const disabled = given(userDecider, [created(['viewer']), { type: 'auth.user.disabled', v: 1, data: { reason: 'left' } }]);
    assert.throws(() => when(userDecider, disabled, { kind: 'assign_role', role: 'operator', by: admin }), UserStateError);
  });

  test('a role is revoked once; a user keeps at least one; the state follows', () => {
    const two = given(userDecider, [created(['viewer', 'operator'])]);
    assert.deepEqual(types(when(userDecider, two, { kind: 'revoke_role', role: 'operator', by: admin })), ['auth.user.role_revoked']);
    assert.deepEqual(when(userDecider, two, { kind: 'revoke_role', role: 'admin', by: admin }), [], 'not held');
    assert.throws(() => when(userDecider, two, { kind: 'revoke_role', role: 'auditor', by: admin }), ForbiddenError, 'not mine to grant, held or not');
    const one = given(userDecider, [created(['viewer', 'operator']), { type: 'auth.user.role_revoked', v: 1, data: { role: 'operator' } }]);
    assert.deepEqual(one.roles, ['viewer']);
    assert.throws(() => when(userDecider, one, { kind: 'revoke_role', role: 'viewer', by: admin }), UserStateError);
    const added = given(userDecider, [created(['viewer']), { type: 'auth.user.role_assigned', v: 1, data: { role: 'auditor' } }]);
    assert.deepEqual(added.roles, ['viewer', 'auditor']);
  });
});

describe('my password', () => {
  const change = (matched: boolean, over: Partial<Extract<UserCommand, { kind: 'change_password' }>> = {}): UserCommand => ({
    kind: 'change_password',
    check: matched ? { matched: true, newPasswordHash: '$argon2id$v=19$m=19456,t=2,p=1$new$hash' } : { matched: false },
    passwordVersion: 1,
    now,
    policy,
    ...over,
  });

  test('given the right current password, when changed, then set by the user', () => {
    const drafts = when(userDecider, given(userDecider, [created(['viewer']), password]), change(true));
    assert.deepEqual(drafts.map((d) => d.data), [{ password_hash: '$argon2id$v=19$m=19456,t=2,p=1$new$hash', by: 'self' }]);
  });

  test('a wrong current password counts like a failed sign-in, and the 5th locks', () => {
    assert.deepEqual(when(userDecider, given(userDecider, [created(['viewer']), password]), change(false)).map((d) => d.data), [{ factor: 'password', reason: 'wrong' }]);
    const four = given(userDecider, [created(['viewer']), password, wrong, wrong, wrong, wrong]);
    const fifth = when(userDecider, four, change(false));
    assert.ok(fifth.some((d) => typeof d.data === 'object' && d.data !== null && 'locked_until' in d.data));
  });

  test('a locked or disabled account, or a check against a password changed meanwhile, changes nothing', () => {
    assert.deepEqual(when(userDecider, given(userDecider, [created(['viewer']), password, locking]), change(true)), []);
    assert.deepEqual(when(userDecider, given(userDecider, [created(['viewer']), password, { type: 'auth.user.disabled', v: 1, data: { reason: 'x' } }]), change(true)), []);
    assert.deepEqual(when(userDecider, given(userDecider, [created(['viewer']), password, password]), change(true)), [], 'checked against version 1, now 2');
  });
});
