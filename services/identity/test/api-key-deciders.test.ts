// Given events, when a command, then events (or a refusal): API keys, their quota and their issue, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiKeyQuotaExceededError, ApiKeyRevokedError, builtInRoles, ForbiddenError, TenantUnavailableError } from '@vigil/identity-contract';
import { apiKeyDecider, isUsable } from '../src/api-key.ts';
import { liveApiKeys, tenantDecider } from '../src/tenant.ts';
import { apiKeysBeyondRoles, userDecider } from '../src/user.ts';
import { given, types, when } from './given.ts';

const u1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const k1 = '01890a5d-ac96-774b-bcce-b302099a8061';
const k2 = '01890a5d-ac96-774b-bcce-b302099a8062';
const k3 = '01890a5d-ac96-774b-bcce-b302099a8063';
const now = Date.parse('2026-01-01T00:10:00Z');
const day = 86_400_000;
const hash = (c: string) => c.repeat(64);

describe('API key', () => {
  const data = {
    key_id: k1,
    user_id: u1,
    name: 'ci deploy',
    permissions: ['devices:read'],
    expires_at: new Date(now + day).toISOString(),
    rate_limit_per_minute: 60,
    secret_sha256: hash('a'),
  };
  const created = { type: 'auth.apikey.created', v: 1, data };
  const revoked = (reason: string) => ({ type: 'auth.apikey.revoked', v: 1, data: { reason } });

  test('given nothing, when made, then created; usable until it expires', () => {
    assert.deepEqual(types(when(apiKeyDecider, given(apiKeyDecider, []), { kind: 'create', data })), ['auth.apikey.created']);
    const key = given(apiKeyDecider, [created]);
    assert.equal(isUsable(key, now), true);
    assert.equal(isUsable(key, now + day), false, 'expired at its expires_at');
    assert.deepEqual(key.permissions, ['devices:read']);
  });

  test('the same creation retried is a no-op; a key is never made twice', () => {
    const key = given(apiKeyDecider, [created]);
    assert.deepEqual(when(apiKeyDecider, key, { kind: 'create', data }), []);
    assert.throws(() => when(apiKeyDecider, key, { kind: 'create', data: { ...data, secret_sha256: hash('b') } }), ApiKeyRevokedError);
  });

  test('revoked once; revoking again, or an unknown key, is a no-op; a revoked key is never usable again', () => {
    const key = given(apiKeyDecider, [created]);
    assert.deepEqual(when(apiKeyDecider, key, { kind: 'revoke', reason: 'owner' }).map((d) => d.data), [{ reason: 'owner' }]);
    const gone = given(apiKeyDecider, [created, revoked('owner')]);
    assert.equal(isUsable(gone, now), false);
    assert.deepEqual(when(apiKeyDecider, gone, { kind: 'revoke', reason: 'admin' }), []);
    assert.deepEqual(when(apiKeyDecider, given(apiKeyDecider, []), { kind: 'revoke', reason: 'owner' }), [], 'revoke needs a key that exists');
  });

  test('forbid revokes a key before it is made; its creation is then refused', () => {
    const forbidden = when(apiKeyDecider, given(apiKeyDecider, []), { kind: 'forbid', reason: 'user_disabled' });
    assert.deepEqual(types(forbidden), ['auth.apikey.revoked']);
    const tombstone = given(apiKeyDecider, [revoked('user_disabled')]);
    assert.throws(() => when(apiKeyDecider, tombstone, { kind: 'create', data }), ApiKeyRevokedError);
    assert.deepEqual(when(apiKeyDecider, tombstone, { kind: 'forbid', reason: 'user_disabled' }), []);
  });
});

describe('tenant API key quota', () => {
  const created = { type: 'auth.tenant.created', v: 1, data: { tenant_id: 'acme', name: 'Acme', max_users: 5, max_api_keys: 2 } };
  const slot = (id: string, expiresAt: number) => ({ type: 'auth.tenant.api_key_slot_taken', v: 1, data: { key_id: id, expires_at: new Date(expiresAt).toISOString() } });
  const take = (keyId: string, defaultMaxApiKeys = 100) => ({ kind: 'take_api_key_slot', keyId, expiresAt: now + day, now, defaultMaxApiKeys }) as const;

  test('slots up to max_api_keys, then refused; a released slot is free again; taking a held slot is a no-op', () => {
    const full = given(tenantDecider, [created, slot(k1, now + day), slot(k2, now + day)]);
    assert.throws(() => when(tenantDecider, full, take(k3)), ApiKeyQuotaExceededError);
    assert.deepEqual(when(tenantDecider, full, take(k1)), []);
    const freed = given(tenantDecider, [created, slot(k1, now + day), slot(k2, now + day), { type: 'auth.tenant.api_key_slot_released', v: 1, data: { key_id: k2 } }]);
    assert.deepEqual(types(when(tenantDecider, freed, take(k3))), ['auth.tenant.api_key_slot_taken']);
  });

  test('an expired key stops counting by itself', () => {
    const oneExpired = given(tenantDecider, [created, slot(k1, now - 1), slot(k2, now + day)]);
    assert.deepEqual(liveApiKeys(oneExpired, now), [k2]);
    assert.deepEqual(types(when(tenantDecider, oneExpired, take(k3))), ['auth.tenant.api_key_slot_taken']);
  });

  test('a tenant made before API keys had a quota gets the deployment default; a suspended tenant makes no keys', () => {
    const old = given(tenantDecider, [{ type: 'auth.tenant.created', v: 1, data: { tenant_id: 'old', name: 'Old', max_users: 5 } }, slot(k1, now + day)]);
    assert.throws(() => when(tenantDecider, old, take(k2, 1)), ApiKeyQuotaExceededError);
    assert.deepEqual(types(when(tenantDecider, old, take(k2, 2))), ['auth.tenant.api_key_slot_taken']);
    const suspended = given(tenantDecider, [created, { type: 'auth.tenant.suspended', v: 1, data: { reason: 'unpaid' } }]);
    assert.throws(() => when(tenantDecider, suspended, take(k1)), TenantUnavailableError);
  });
});

describe('issuing an API key on its user', () => {
  const userCreated = (roles: string[]) => ({ type: 'auth.user.created', v: 1, data: { user_id: u1, username: 'alice', email_sha256: hash('a'), email: { kek_id: 'k1', sealed: 'AAAA' }, roles } });
  const issue = (permissions: string[], keyId = k1) => ({ kind: 'issue_api_key', keyId, permissions, expiresAt: now + day, catalog: builtInRoles }) as const;

  test('with a subset of the user’s permissions: issued; with one beyond them: refused, naming it', () => {
    const operator = given(userDecider, [userCreated(['operator'])]);
    assert.deepEqual(types(when(userDecider, operator, issue(['devices:read', 'devices:write']))), ['auth.user.api_key_issued']);
    assert.throws(
      () => when(userDecider, operator, issue(['devices:read', 'users:create'])),
      (e: unknown) => e instanceof ForbiddenError && /users:create/.test(e.message),
    );
  });

  test('a disabled or unknown user issues nothing', () => {
    const disabled = given(userDecider, [userCreated(['owner']), { type: 'auth.user.disabled', v: 1, data: { reason: 'left' } }]);
    assert.throws(() => when(userDecider, disabled, issue(['devices:read'])), ForbiddenError);
    assert.throws(() => when(userDecider, given(userDecider, []), issue(['devices:read'])), ForbiddenError);
  });

  test('after a role is revoked, the keys carrying a permission the user lost are the ones to revoke', () => {
    const issued = (id: string, permissions: string[]) => ({ type: 'auth.user.api_key_issued', v: 1, data: { key_id: id, permissions, expires_at: new Date(now + day).toISOString() } });
    const state = given(userDecider, [
      userCreated(['viewer', 'admin']),
      issued(k1, ['devices:read']),
      issued(k2, ['users:create']),
      { type: 'auth.user.role_revoked', v: 1, data: { role: 'admin' } },
    ]);
    assert.deepEqual(apiKeysBeyondRoles(state, builtInRoles), [k2]);
  });
});
