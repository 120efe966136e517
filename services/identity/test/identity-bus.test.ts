// The identity worker through the real bus (no edge): races settled by expected-sequence appends.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConcurrencyError, loadAggregate, request } from '@vigil/bus';
import {
  ForbiddenError,
  identitySubjects,
  NameTakenError,
  parseApiKeyList,
  parseCreatedApiKey,
  parseDone,
  parseJwks,
  parseRoleDefinitionResult,
  QuotaExceededError,
  TenantExistsError,
} from '@vigil/identity-contract';
import { startIdentity, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
before(async () => {
  t = await startIdentity();
});
after(async () => {
  await t.close();
});

const password = 'a perfectly long pass phrase';

test('of 10 concurrent creations of one username, exactly one wins; the losers give their seats back', async () => {
  await t.worker.createTenant({ tenant_id: 'race', name: 'Race', max_users: 50, owner: { username: 'owner', email: 'o@race.example', password } });
  const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => t.worker.createUser('race', { username: 'same', email: `same${i}@race.example`, roles: ['viewer'] })));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
  for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof NameTakenError);
  const sameEmail = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => t.worker.createUser('race', { username: `other${i}`, email: 'Shared@Race.example', roles: ['viewer'] })));
  assert.equal(sameEmail.filter((o) => o.status === 'fulfilled').length, 1, 'e-mail addresses are unique too, whatever their case');
  const { events } = await loadAggregate(t.testBus.bus, 'auth.race.tenant.race');
  const seats = events.filter((e) => e.event.type === 'auth.tenant.seat_taken').length - events.filter((e) => e.event.type === 'auth.tenant.seat_released').length;
  assert.equal(seats, 3, 'the owner and the two winners');
});

test('the user quota holds under concurrent creations', async () => {
  await t.worker.createTenant({ tenant_id: 'small', name: 'Small', max_users: 3, owner: { username: 'owner', email: 'o@small.example', password } });
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => t.worker.createUser('small', { username: `user${i}`, email: `u${i}@small.example`, roles: ['viewer'] })));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 2);
  for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof QuotaExceededError);
  await assert.rejects(t.worker.createTenant({ tenant_id: 'small', name: 'Again', owner: { username: 'owner2', email: 'o2@small.example', password } }), TenantExistsError);
});

test('the public keys are served on the bus, and e-mail addresses stand only hashed in subjects', async () => {
  const jwks = await request(t.testBus.bus, identitySubjects.jwks, {}, { timeoutMs: 2000, parse: parseJwks });
  assert.equal(jwks.keys[0]?.kid, 'test1');
  const subjects = await t.testBus.bus.jsm.streams.info(t.testBus.bus.names.stream('AUTH_EVENT'), { subjects_filter: '>' });
  const names = Object.keys(subjects.state.subjects ?? {});
  assert.ok(names.some((s) => /\.email\.[0-9a-f]{64}$/.test(s)));
  assert.ok(!names.some((s) => s.includes('@') || s.includes('example')));
});

test('an API key made while its maker’s custom role is cut down never keeps what the role no longer grants', async () => {
  const bus = t.testBus.bus;
  const made = await t.worker.createTenant({ tenant_id: 'cut', name: 'Cut', plan: 'enterprise', max_api_keys: 1000, owner: { username: 'owner', email: 'o@cut.example', password } });
  const owner = { tenant: 'cut', actor: { kind: 'user', id: made.owner_user_id } } as const;
  const full = ['users:read', 'api_keys:create', 'profile:self'];
  const defineTech = (permissions: string[]) => request(bus, identitySubjects.defineRole, { role: 'tech', permissions, description: 'Technicians' }, { timeoutMs: 10_000, caller: owner, parse: parseRoleDefinitionResult });
  await defineTech(full);
  const { user_id: techId } = await t.worker.createUser('cut', { username: 'tech', email: 't@cut.example', roles: ['tech'] });
  const tech = { tenant: 'cut', actor: { kind: 'user', id: techId } } as const;
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  // Keys are asked for a little apart, while the role loses users:read: some are checked against the role as it was
  // and land after the cut-down's sweep has read the user. Whichever way each one goes, none may keep users:read.
  for (let round = 0; round < 6; round++) {
    const creations = Promise.allSettled(
      Array.from({ length: 16 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i / 2));
        return request(bus, identitySubjects.createApiKey, { name: `k${round}-${i}`, permissions: ['users:read'], expires_at: expiresAt, rate_limit_per_minute: 10 }, { timeoutMs: 10_000, caller: tech, parse: parseCreatedApiKey });
      }),
    );
    await new Promise((r) => setTimeout(r, 3));
    const cut = await defineTech(['api_keys:create', 'profile:self']);
    assert.equal(cut.change, 'changed');
    const outcomes = await creations;
    // Refused: the role no longer gave users:read (also when the cut-down's sweep read the issue on the user and
    // forbade the key before its own append: a 403 naming the permission, not a 409 "revoked before it was made"), or
    // (16 keys of one user at once) the user's subject stayed busy.
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof ForbiddenError || o.reason instanceof ConcurrencyError, `round ${round}: ${String(o.reason)}`);
    const { api_keys: alive } = await request(bus, identitySubjects.apiKeys, { all: false }, { timeoutMs: 10_000, caller: tech, parse: parseApiKeyList });
    assert.deepEqual(
      alive.filter((k) => k.permissions.includes('users:read')).map((k) => k.name),
      [],
      `round ${round}: keys that kept users:read after the role lost it`,
    );
    await defineTech(full);
  }
});

test('an API key made while its maker is disabled is refused (403) or revoked: none stays alive', async () => {
  const bus = t.testBus.bus;
  const made = await t.worker.createTenant({ tenant_id: 'off', name: 'Off', plan: 'standard', max_users: 20, max_api_keys: 1000, owner: { username: 'owner', email: 'o@off.example', password } });
  const owner = { tenant: 'off', actor: { kind: 'user', id: made.owner_user_id } } as const;
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  for (let round = 0; round < 6; round++) {
    const { user_id: userId } = await t.worker.createUser('off', { username: `op${round}`, email: `op${round}@off.example`, roles: ['operator'] });
    const operator = { tenant: 'off', actor: { kind: 'user', id: userId } } as const;
    // As in the role race: some keys are issued before the disable, and its sweep may forbid one of them before the
    // key's own append; the create must then answer 403, as when the disable lands first.
    const creations = Promise.allSettled(
      Array.from({ length: 16 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i / 2));
        return request(bus, identitySubjects.createApiKey, { name: `k${round}-${i}`, permissions: ['devices:read'], expires_at: expiresAt, rate_limit_per_minute: 10 }, { timeoutMs: 10_000, caller: operator, parse: parseCreatedApiKey });
      }),
    );
    await new Promise((r) => setTimeout(r, 3));
    await request(bus, identitySubjects.disableUser, { user_id: userId, reason: 'left' }, { timeoutMs: 10_000, caller: owner, parse: parseDone });
    for (const o of await creations) if (o.status === 'rejected') assert.ok(o.reason instanceof ForbiddenError || o.reason instanceof ConcurrencyError, `round ${round}: ${String(o.reason)}`);
    const { api_keys: alive } = await request(bus, identitySubjects.apiKeys, { all: true }, { timeoutMs: 10_000, caller: owner, parse: parseApiKeyList });
    assert.deepEqual(
      alive.filter((k) => k.user_id === userId).map((k) => k.name),
      [],
      `round ${round}: keys of a disabled user still alive`,
    );
  }
});
