// The identity worker through the real bus (no edge): races settled by expected-sequence appends.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadAggregate, request } from '@vigil/bus';
import { identitySubjects, NameTakenError, parseJwks, QuotaExceededError, TenantExistsError } from '@vigil/identity-contract';
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
