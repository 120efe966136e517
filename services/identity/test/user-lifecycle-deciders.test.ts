// Given events, when a command, then events (or a refusal): soft delete and restore, and the users directory, no bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createEvent } from '@vigil/bus';
import { builtInRoles, ForbiddenError, permissionsOf, UserNotFoundError, UserStateError, type Role } from '@vigil/identity-contract';
import { LoggedIn, LoginFailed, MfaConfirmed, RoleAssigned, UserCreated, UserDeleted, UserRestored, type AnyEnvelope } from '@vigil/schemas';
import { sessionDecider, type SessionCommand } from '../src/session.ts';
import { evolveUserSummary, statusOf, type UserSummary } from '../src/user-directory.ts';
import { mayAttempt, userDecider, type Administrator, type UserCommand } from '../src/user.ts';
import { given, types, when } from './given.ts';

const target = '01890a5d-ac96-774b-bcce-b302099a8057';
const adminId = '01890a5d-ac96-774b-bcce-b302099a8059';
const s1 = '01890a5d-ac96-774b-bcce-b302099a805a';
const now = Date.parse('2026-01-01T00:10:00Z');
const by = (userId: string, roles: Role[]): Administrator => ({ userId, permissions: permissionsOf(roles), catalog: builtInRoles });
const admin = by(adminId, ['admin']);
const owner = by(adminId, ['owner']);
const created = (roles: Role[]) => ({ type: 'auth.user.created', v: 1, data: { user_id: target, username: 'tom', email_sha256: 'a'.repeat(64), email: { kek_id: 'k1', sealed: 'AAAA' }, roles } });
const password = { type: 'auth.user.password_set', v: 1, data: { password_hash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', by: 'admin' } };
const deleted = { type: 'auth.user.deleted', v: 1, data: { reason: 'left' } };
const restored = { type: 'auth.user.restored', v: 1, data: {} };

describe('soft delete', () => {
  test('given a user, when deleted, then deleted once (a retry is a no-op); a deleted user never signs in', () => {
    const user = given(userDecider, [created(['viewer']), password]);
    assert.deepEqual(when(userDecider, user, { kind: 'delete', reason: 'left', by: admin }).map((d) => d.data), [{ reason: 'left' }]);
    const gone = given(userDecider, [created(['viewer']), password, deleted]);
    assert.deepEqual(when(userDecider, gone, { kind: 'delete', reason: 'again', by: admin }), []);
    assert.equal(mayAttempt(gone, now), false);
    assert.deepEqual(when(userDecider, gone, { kind: 'password_attempt', matched: true, passwordVersion: 1, now, session: { id: s1, expiresAt: now + 1000 }, policy: { threshold: 5, lockMs: 1000 } }), []);
    assert.throws(() => when(userDecider, gone, { kind: 'issue_api_key', keyId: s1, permissions: ['devices:read'], expiresAt: now + 1000, catalog: builtInRoles }), ForbiddenError);
  });

  test('who may delete: as for any administration (an admin never an owner, no one themselves)', () => {
    assert.throws(() => when(userDecider, given(userDecider, [created(['owner'])]), { kind: 'delete', reason: '', by: admin }), ForbiddenError);
    assert.throws(() => when(userDecider, given(userDecider, [created(['viewer'])]), { kind: 'delete', reason: '', by: by(target, ['owner']) }), UserStateError);
    assert.throws(() => when(userDecider, given(userDecider, []), { kind: 'delete', reason: '', by: admin }), UserNotFoundError);
    assert.throws(() => when(userDecider, given(userDecider, [created(['owner']), deleted]), { kind: 'delete', reason: '', by: admin }), ForbiddenError, 'not even a no-op on a deleted owner');
  });

  test('a deleted user is gone for any administration but a restore', () => {
    const gone = given(userDecider, [created(['viewer']), password, deleted]);
    const commands: UserCommand[] = [
      { kind: 'disable', reason: '', by: admin },
      { kind: 'unlock', now, by: admin },
      { kind: 'assign_role', role: 'operator', by: admin },
      { kind: 'revoke_role', role: 'viewer', by: admin },
    ];
    for (const c of commands) assert.throws(() => when(userDecider, gone, c), UserNotFoundError, c.kind);
  });
});

describe('restore', () => {
  test('given a deleted user, when restored, then back (with the same password); a restore of an active user is a no-op', () => {
    const gone = given(userDecider, [created(['viewer']), password, deleted]);
    assert.deepEqual(types(when(userDecider, gone, { kind: 'restore', by: admin })), ['auth.user.restored']);
    const back = given(userDecider, [created(['viewer']), password, deleted, restored]);
    assert.equal(mayAttempt(back, now), true);
    assert.deepEqual(when(userDecider, back, { kind: 'restore', by: admin }), []);
  });

  test('who may restore: the same rule; an unknown user is not found', () => {
    assert.throws(() => when(userDecider, given(userDecider, [created(['owner']), deleted]), { kind: 'restore', by: admin }), ForbiddenError);
    assert.deepEqual(types(when(userDecider, given(userDecider, [created(['owner']), deleted]), { kind: 'restore', by: owner })), ['auth.user.restored']);
    assert.throws(() => when(userDecider, given(userDecider, []), { kind: 'restore', by: admin }), UserNotFoundError);
  });
});

describe('a session forbidden before it starts', () => {
  test('given nothing, when forbidden, then revoked; its start then records nothing; an ended one is not revoked twice', () => {
    assert.deepEqual(when(sessionDecider, given(sessionDecider, []), { kind: 'forbid', reason: 'user_deleted' }).map((d) => d.data), [{ reason: 'user_deleted' }]);
    const forbidden = given(sessionDecider, [{ type: 'auth.session.revoked', v: 1, data: { reason: 'user_deleted' } }]);
    const start: SessionCommand = { kind: 'start', data: { user_id: target, roles: ['viewer'], refresh_sha256: 'b'.repeat(64), expires_at: new Date(now + 1000).toISOString(), mfa: false } };
    assert.deepEqual(when(sessionDecider, forbidden, start), []);
    assert.deepEqual(when(sessionDecider, forbidden, { kind: 'forbid', reason: 'user_disabled' }), []);
  });
});

describe('the users directory', () => {
  const meta = { actor: { kind: 'system', id: 'test' }, now: new Date(now) } as const;
  const fold = (events: AnyEnvelope[]): UserSummary | undefined => events.reduce<UserSummary | undefined>(evolveUserSummary, undefined);
  const made = createEvent(UserCreated, { user_id: target, username: 'tom', email_sha256: 'a'.repeat(64), email: { kek_id: 'k1', sealed: 'AAAA' }, roles: ['viewer'] }, meta);

  test('a summary per user: roles, lock, MFA and status as their events leave them; events before the creation change nothing', () => {
    assert.equal(fold([createEvent(UserDeleted, { reason: '' }, meta)]), undefined);
    const locked = fold([made, createEvent(LoginFailed, { factor: 'password', reason: 'wrong', locked_until: new Date(now + 60_000).toISOString() }, meta)]);
    assert.equal(locked?.lockedUntil, now + 60_000);
    const summary = fold([
      made,
      createEvent(LoginFailed, { factor: 'password', reason: 'wrong', locked_until: new Date(now + 60_000).toISOString() }, meta),
      createEvent(LoggedIn, { session_id: s1, expires_at: new Date(now + 1000).toISOString(), mfa: false }, meta),
      createEvent(MfaConfirmed, { enrollment_id: s1, step: 3 }, meta),
      createEvent(RoleAssigned, { role: 'operator' }, meta),
      createEvent(UserDeleted, { reason: '' }, meta),
    ]);
    assert.deepEqual(summary, { id: target, username: 'tom', email: { kek_id: 'k1', sealed: 'AAAA' }, roles: ['viewer', 'operator'], disabled: false, deleted: true, mfa: true, createdAt: made.at });
    assert.ok(summary);
    assert.equal(statusOf(summary), 'deleted');
    const back = evolveUserSummary(summary, createEvent(UserRestored, {}, meta));
    assert.ok(back);
    assert.equal(statusOf(back), 'active');
  });
});
