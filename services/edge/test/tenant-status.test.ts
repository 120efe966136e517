// The edge's tenant suspension feed on real NATS (the test plays the identity worker by appending its events).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { append, createEvent, type Bus } from '@vigil/bus';
import { SeatTaken, TenantCreated, TenantReactivated, TenantSuspended } from '@vigil/schemas';
import { features, TenantViewBehindError } from '@vigil/identity-contract';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { TenantStatus } from '../src/identity/tenant-status.ts';

let testBus: TestBus;
let edgeBus: Bus;
const logger = testLogger('edge');
const actor = { kind: 'user', id: '01890a5d-ac96-774b-bcce-b302099a8057' } as const;
const suspendedAt = new Date('2026-03-01T10:00:00.500Z');

before(async () => {
  testBus = await startTestBus();
  edgeBus = await testBus.connect('edge');
});
after(async () => {
  await testBus.close();
});

async function tenantEvent(tenant: string, event: Parameters<typeof append>[2]): Promise<number> {
  return (await append(testBus.bus, `auth.${tenant}.tenant.${tenant}`, event)).seq;
}

test('a suspension stored before the edge starts is known when its start resolves; a reactivation lets new tokens in, not old ones', async () => {
  await tenantEvent('acme', createEvent(TenantCreated, { tenant_id: 'acme', name: 'Acme', max_users: 5 }, { actor, tenant: 'acme' }));
  await tenantEvent('acme', createEvent(SeatTaken, { user_id: actor.id }, { actor, tenant: 'acme' }));
  await tenantEvent('acme', createEvent(TenantSuspended, { reason: 'unpaid' }, { actor, tenant: 'acme', now: suspendedAt }));
  const status = new TenantStatus({ bus: edgeBus, logger });
  // Resolves when caught up; the bound is only a start-up's patience, generous here for a busy machine.
  await status.start(30_000);
  try {
    assert.equal(status.refuses('acme'), true, 'an API key of a suspended tenant');
    assert.equal(status.refuses('acme', Date.parse('2026-03-01T11:00:00Z') / 1000), true, 'any access token while suspended');
    assert.equal(status.refuses('other'), false, 'a tenant never suspended (or unknown)');

    const seq = await tenantEvent('acme', createEvent(TenantReactivated, {}, { actor, tenant: 'acme', now: new Date('2026-03-01T10:05:00Z') }));
    await status.reach(seq, 30_000);
    assert.equal(status.refuses('acme'), false, 'API keys work again');
    assert.equal(status.refuses('acme', Date.parse('2026-03-01T10:00:00Z') / 1000), true, 'a token issued in the second of the suspension, before it');
    assert.equal(status.refuses('acme', Date.parse('2026-03-01T09:00:00Z') / 1000), true);
    assert.equal(status.refuses('acme', Date.parse('2026-03-01T10:05:01Z') / 1000), false, 'a token issued after');

    status.markSuspended('acme', Date.now());
    assert.equal(status.refuses('acme'), true, 'the edge that handled a suspension knows it at once');
  } finally {
    await status.stop();
  }
});

test('a credential of a tenant the view has not reached is judged only once it has: never as a tenant with every feature', async () => {
  const essentials = (tenant: string) => createEvent(TenantCreated, { tenant_id: tenant, name: tenant, max_users: 5, plan: 'essentials', features: [] }, { actor, tenant });
  await tenantEvent('lite', essentials('lite'));
  const status = new TenantStatus({ bus: edgeBus, logger });
  // Not started, it follows nothing: it cannot reach the tenant, and says so (503) rather than guess.
  await assert.rejects(status.learn('lite', 100), TenantViewBehindError);
  // Nor without the bus.
  const goneBus = await testBus.connect('edge-gone');
  await goneBus.nc.close();
  await assert.rejects(new TenantStatus({ bus: goneBus, logger }).learn('lite', 100), TenantViewBehindError);
  await status.start(30_000);
  try {
    await tenantEvent('fresh', essentials('fresh'));
    assert.equal(await status.learn('fresh', 30_000), true);
    assert.equal(status.knows('fresh'), true);
    assert.equal(status.hasFeature('fresh', features.apiKeys), false, 'its plan, not every feature');
    assert.equal(await status.learn('nobody', 30_000), false, 'a tenant with no events does not exist');
    assert.equal(status.knows('platform'), true, 'the platform tenant has no plan to wait for');
  } finally {
    await status.stop();
  }
});
