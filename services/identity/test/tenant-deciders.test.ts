// Given events, when a command, then events (or a refusal): a tenant's lifecycle and quotas, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiKeyQuotaExceededError, QuotaExceededError, TenantNotFoundError, TenantStateError, TenantUnavailableError } from '@vigil/identity-contract';
import { sessionDecider } from '../src/session.ts';
import { predatesReactivation, tenantDecider } from '../src/tenant.ts';
import { given, types, when } from './given.ts';

const u1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const u2 = '01890a5d-ac96-774b-bcce-b302099a8058';
const u3 = '01890a5d-ac96-774b-bcce-b302099a8059';
const k1 = '01890a5d-ac96-774b-bcce-b302099a805a';
const k2 = '01890a5d-ac96-774b-bcce-b302099a805b';
const at = Date.parse('2026-01-01T00:00:00Z');
const created = { type: 'auth.tenant.created', v: 1, data: { tenant_id: 'acme', name: 'Acme', max_users: 2, max_api_keys: 1, max_devices: 3 } };
const suspended = { type: 'auth.tenant.suspended', v: 1, data: { reason: 'unpaid' } };
const reactivated = { type: 'auth.tenant.reactivated', v: 1, data: {} };
const seat = (id: string) => ({ type: 'auth.tenant.seat_taken', v: 1, data: { user_id: id } });

describe('tenant lifecycle', () => {
  test('given an active tenant, when suspended, then suspended once; again, nothing', () => {
    const drafts = when(tenantDecider, given(tenantDecider, [created]), { kind: 'suspend', tenantId: 'acme', reason: 'unpaid' });
    assert.deepEqual(drafts.map((d) => [d.type, d.data]), [['auth.tenant.suspended', { reason: 'unpaid' }]]);
    assert.deepEqual(when(tenantDecider, given(tenantDecider, [created, suspended]), { kind: 'suspend', tenantId: 'acme', reason: 'again' }), []);
  });

  test('given a suspension, the state keeps its time (what edges compare tokens with); a reactivation clears it', () => {
    const then = new Date('2026-02-03T04:05:06.789Z');
    assert.equal(given(tenantDecider, [created, suspended], then).suspendedAt, then.getTime());
    assert.equal(given(tenantDecider, [created, suspended, reactivated], then).suspendedAt, undefined);
  });

  test('an unknown tenant is not found; the platform tenant is never suspended', () => {
    assert.throws(() => when(tenantDecider, given(tenantDecider, []), { kind: 'suspend', tenantId: 'ghost', reason: '' }), (e: unknown) => e instanceof TenantNotFoundError && /ghost/.test(e.message));
    assert.throws(() => when(tenantDecider, given(tenantDecider, []), { kind: 'reactivate', tenantId: 'ghost' }), TenantNotFoundError);
    const platform = given(tenantDecider, [{ ...created, data: { ...created.data, tenant_id: 'platform' } }]);
    assert.throws(() => when(tenantDecider, platform, { kind: 'suspend', tenantId: 'platform', reason: '' }), TenantStateError);
  });

  test('given a suspended tenant, nothing of it is made: no user seat, no API key slot', () => {
    const state = given(tenantDecider, [created, suspended]);
    assert.throws(() => when(tenantDecider, state, { kind: 'take_seat', userId: u1 }), TenantUnavailableError);
    assert.throws(() => when(tenantDecider, state, { kind: 'take_api_key_slot', keyId: k1, expiresAt: at + 1000, now: at, defaultMaxApiKeys: 5 }), TenantUnavailableError);
    assert.deepEqual(types(when(tenantDecider, state, { kind: 'release_seat', userId: u1 })), [], 'giving back is always allowed');
  });

  test('given a suspended tenant, when reactivated, then active again; sessions started before the reactivation are ended', () => {
    assert.deepEqual(when(tenantDecider, given(tenantDecider, [created]), { kind: 'reactivate', tenantId: 'acme' }), [], 'not suspended: nothing');
    assert.deepEqual(types(when(tenantDecider, given(tenantDecider, [created, suspended]), { kind: 'reactivate', tenantId: 'acme' })), ['auth.tenant.reactivated']);
    const back = given(tenantDecider, [created, suspended, reactivated]);
    assert.equal(back.suspended, false);
    assert.deepEqual(types(when(tenantDecider, back, { kind: 'take_seat', userId: u1 })), ['auth.tenant.seat_taken']);
    assert.equal(predatesReactivation(back, at - 1), true);
    assert.equal(predatesReactivation(back, at + 1), false);
    assert.equal(predatesReactivation(given(tenantDecider, [created]), 0), false, 'never suspended: every session counts');
  });

  test('a session older than the tenant’s reactivation is revoked at its refresh, not rotated; a newer one rotates', () => {
    const session = given(sessionDecider, [
      { type: 'auth.session.started', v: 1, data: { user_id: u1, roles: ['viewer'], refresh_sha256: 'a'.repeat(64), expires_at: new Date(at + 3_600_000).toISOString(), mfa: false } },
    ]);
    const refresh = { kind: 'refresh', presented: 'a'.repeat(64), next: 'b'.repeat(64), now: at + 1000, idleMs: 60_000 } as const;
    assert.deepEqual(when(sessionDecider, session, { ...refresh, notBefore: at + 500 }).map((d) => [d.type, d.data]), [['auth.session.revoked', { reason: 'tenant_suspended' }]]);
    assert.deepEqual(types(when(sessionDecider, session, { ...refresh, notBefore: at })), ['auth.session.refreshed']);
    assert.deepEqual(types(when(sessionDecider, session, refresh)), ['auth.session.refreshed']);
  });
});

describe('tenant quotas', () => {
  test('a change records only the quotas that differ; none differing, nothing', () => {
    const state = given(tenantDecider, [created]);
    const drafts = when(tenantDecider, state, { kind: 'change_quotas', tenantId: 'acme', quotas: { max_users: 2, max_api_keys: 4, max_devices: 9 } });
    assert.deepEqual(drafts.map((d) => d.data), [{ max_api_keys: 4, max_devices: 9 }]);
    assert.deepEqual(when(tenantDecider, state, { kind: 'change_quotas', tenantId: 'acme', quotas: { max_users: 2 } }), []);
    assert.throws(() => when(tenantDecider, given(tenantDecider, []), { kind: 'change_quotas', tenantId: 'ghost', quotas: { max_users: 3 } }), TenantNotFoundError);
  });

  test('given a full tenant, a higher user quota lets one more in; a lower one refuses new users but keeps the seats held', () => {
    const full = given(tenantDecider, [created, seat(u1), seat(u2)]);
    assert.throws(() => when(tenantDecider, full, { kind: 'take_seat', userId: u3 }), QuotaExceededError);
    const raised = given(tenantDecider, [created, seat(u1), seat(u2), { type: 'auth.tenant.quota_changed', v: 1, data: { max_users: 3 } }]);
    assert.deepEqual(types(when(tenantDecider, raised, { kind: 'take_seat', userId: u3 })), ['auth.tenant.seat_taken']);
    const lowered = given(tenantDecider, [created, seat(u1), seat(u2), { type: 'auth.tenant.quota_changed', v: 1, data: { max_users: 1 } }]);
    assert.deepEqual(lowered.seats, new Set([u1, u2]));
    assert.throws(() => when(tenantDecider, lowered, { kind: 'take_seat', userId: u3 }), QuotaExceededError);
  });

  test('the API key quota follows a change too; the device quota is recorded for the device registry', () => {
    const oneKey = given(tenantDecider, [created, { type: 'auth.tenant.api_key_slot_taken', v: 1, data: { key_id: k1, expires_at: new Date(at + 60_000).toISOString() } }]);
    const take = { kind: 'take_api_key_slot', keyId: k2, expiresAt: at + 60_000, now: at, defaultMaxApiKeys: 100 } as const;
    assert.throws(() => when(tenantDecider, oneKey, take), ApiKeyQuotaExceededError);
    const more = given(tenantDecider, [
      created,
      { type: 'auth.tenant.api_key_slot_taken', v: 1, data: { key_id: k1, expires_at: new Date(at + 60_000).toISOString() } },
      { type: 'auth.tenant.quota_changed', v: 1, data: { max_api_keys: 2, max_devices: 0 } },
    ]);
    assert.deepEqual(types(when(tenantDecider, more, take)), ['auth.tenant.api_key_slot_taken']);
    assert.equal(more.maxDevices, 0);
    const legacy = given(tenantDecider, [{ type: 'auth.tenant.created', v: 1, data: { tenant_id: 'old', name: 'Old', max_users: 5 } }]);
    assert.equal(legacy.maxDevices, undefined, 'a tenant made before device quotas has none until one is set');
  });
});
