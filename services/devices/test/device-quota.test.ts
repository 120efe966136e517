// A tenant's device quota: the slot decider given/when/then, then through the real bus (the test plays identity by
// appending its tenant events): concurrent registrations never exceed the quota, decommissioning frees a slot.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, createEvent, loadAggregate, type Caller } from '@vigil/bus';
import { DeviceQuotaExceededError, DevicesNotInPlanError, DeviceTenantSuspendedError, SerialTakenError } from '@vigil/devices-contract';
import { TenantCreated, TenantPlanChanged, TenantQuotaChanged, TenantReactivated, TenantSuspended, type AnyEnvelope } from '@vigil/schemas';
import { given, startTestBus, testLogger, types, when, type TestBus } from '@vigil/testkit';
import { deviceSlotsDecider, deviceSlotsSubject } from '../src/registry/device-slots.ts';
import { RegistryWorker } from '../src/registry/registry-worker.ts';
import { evolveTenantLimit, refusalOf, unknownTenant } from '../src/registry/tenant-limits.ts';

const d1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const d2 = '01890a5d-ac96-774b-bcce-b302099a8058';
const d3 = '01890a5d-ac96-774b-bcce-b302099a8059';
const taken = (id: string) => ({ type: 'device.quota.slot_taken', v: 1, data: { device_id: id } });

describe('device slots', () => {
  test('given room, a slot is taken; given the quota full, refused; a held slot taken again is a no-op', () => {
    assert.deepEqual(types(when(deviceSlotsDecider, given(deviceSlotsDecider, [taken(d1)]), { kind: 'take', deviceId: d2, max: 2 })), ['device.quota.slot_taken']);
    const full = given(deviceSlotsDecider, [taken(d1), taken(d2)]);
    assert.throws(() => when(deviceSlotsDecider, full, { kind: 'take', deviceId: d3, max: 2 }), (e: unknown) => e instanceof DeviceQuotaExceededError && /2 devices/.test(e.message));
    assert.deepEqual(when(deviceSlotsDecider, full, { kind: 'take', deviceId: d1, max: 2 }), []);
    assert.throws(() => when(deviceSlotsDecider, given(deviceSlotsDecider, []), { kind: 'take', deviceId: d1, max: 0 }), DeviceQuotaExceededError, 'a quota of 0 takes none');
    assert.deepEqual(types(when(deviceSlotsDecider, full, { kind: 'take', deviceId: d3, max: undefined })), ['device.quota.slot_taken'], 'no quota: no limit');
  });

  test('a released slot is free again; releasing one not held records nothing', () => {
    const freed = given(deviceSlotsDecider, [taken(d1), taken(d2), { type: 'device.quota.slot_released', v: 1, data: { device_id: d2 } }]);
    assert.deepEqual(freed.holders, new Set([d1]));
    assert.deepEqual(types(when(deviceSlotsDecider, freed, { kind: 'take', deviceId: d3, max: 2 })), ['device.quota.slot_taken']);
    assert.deepEqual(when(deviceSlotsDecider, freed, { kind: 'release', deviceId: d2 }), []);
  });

  test('the tenant view: the quota from creation, then from changes; suspension and reactivation; the plan', () => {
    const meta = { actor: { kind: 'system', id: 'test' } } as const;
    const fold = (events: AnyEnvelope[]) => events.reduce(evolveTenantLimit, unknownTenant);
    const created = createEvent(TenantCreated, { tenant_id: 'acme', name: 'Acme', max_users: 5, max_devices: 3 }, meta);
    assert.deepEqual(fold([created]), { known: true, suspended: false, entitled: true, maxDevices: 3 });
    assert.deepEqual(fold([created, createEvent(TenantQuotaChanged, { max_users: 9 }, meta)]), { known: true, suspended: false, entitled: true, maxDevices: 3 }, 'another quota changed');
    assert.deepEqual(fold([created, createEvent(TenantQuotaChanged, { max_devices: 0 }, meta), createEvent(TenantSuspended, { reason: '' }, meta)]), { known: true, suspended: true, entitled: true, maxDevices: 0 });
    assert.equal(fold([created, createEvent(TenantSuspended, { reason: '' }, meta), createEvent(TenantReactivated, {}, meta)]).suspended, false);
    assert.deepEqual(fold([createEvent(TenantCreated, { tenant_id: 'old', name: 'Old', max_users: 5 }, meta)]), { known: true, suspended: false, entitled: true }, 'made before device quotas and plans: no quota, every feature');
    const essentials = createEvent(TenantCreated, { tenant_id: 'acme', name: 'Acme', max_users: 5, plan: 'essentials', features: [] }, meta);
    assert.equal(refusalOf(fold([essentials])), 'tenant_not_entitled');
    const upgraded = createEvent(TenantPlanChanged, { plan: 'standard', features_enabled: [], features_disabled: [], features: ['api_keys', 'devices'] }, meta);
    assert.equal(refusalOf(fold([essentials, upgraded])), undefined);
    assert.equal(refusalOf(fold([essentials, upgraded, createEvent(TenantSuspended, { reason: '' }, meta)])), 'tenant_suspended');
  });
});

describe('the device quota on the bus', () => {
  let t: TestBus;
  let worker: RegistryWorker;
  const actor = { kind: 'user', id: 'owner' } as const;
  const caller = (tenant: string): Caller & { tenant: string } => ({ actor, tenant });
  const lamp = (serial: string) => ({ name: `Lamp ${serial}`, device_type: 'streetlight', serial });
  const tenantEvent = (tenant: string, event: AnyEnvelope) => append(t.bus, `auth.${tenant}.tenant.${tenant}`, event);

  before(async () => {
    t = await startTestBus();
    worker = new RegistryWorker({ bus: t.bus, logger: testLogger('registry') });
    worker.start();
  });
  after(async () => {
    await worker.stop();
    await t.close();
  });

  test('of 20 concurrent registrations against a quota of 5, exactly 5 devices are registered; the others hold nothing', async () => {
    await tenantEvent('fleet', createEvent(TenantCreated, { tenant_id: 'fleet', name: 'Fleet', max_users: 5, max_devices: 5 }, { actor, tenant: 'fleet' }));
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => worker.register(caller('fleet'), lamp(`SN-${i}`))));
    const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.device_id] : []));
    assert.equal(won.length, 5);
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof DeviceQuotaExceededError, String(o.reason));
    const slots = await loadAggregate(t.bus, deviceSlotsSubject('fleet'));
    assert.deepEqual(slots.events.map((e) => e.event.type), Array.from({ length: 5 }, () => 'device.quota.slot_taken'), 'a refused registration appends no slot');
    const devices = await t.bus.jsm.streams.info(t.bus.names.stream('DEVICE_REGISTRY'), { subjects_filter: t.bus.names.subject('device.fleet.*') });
    assert.deepEqual(Object.keys(devices.state.subjects ?? {}).sort(), won.map((id) => t.bus.names.subject(`device.fleet.${id}`)).sort(), 'exactly the winners are devices');
    // The losers gave their serials back: those serials register once there is room.
    const loser = outcomes.findIndex((o) => o.status === 'rejected');
    await worker.decommission(caller('fleet'), { device_id: won[0] ?? '' });
    await worker.register(caller('fleet'), lamp(`SN-${loser}`));
    await assert.rejects(worker.register(caller('fleet'), lamp('SN-one-too-many')), DeviceQuotaExceededError);
    await assert.rejects(worker.register(caller('fleet'), lamp(`SN-${loser}`)), SerialTakenError, 'the serial check still comes first');
  });

  test('a quota change counts from the next registration on; a suspended tenant registers nothing', async () => {
    await tenantEvent('grow', createEvent(TenantCreated, { tenant_id: 'grow', name: 'Grow', max_users: 5, max_devices: 1 }, { actor, tenant: 'grow' }));
    await worker.register(caller('grow'), lamp('G-1'));
    await assert.rejects(worker.register(caller('grow'), lamp('G-2')), DeviceQuotaExceededError);
    await tenantEvent('grow', createEvent(TenantQuotaChanged, { max_devices: 2 }, { actor, tenant: 'grow' }));
    await worker.register(caller('grow'), lamp('G-2'));
    await tenantEvent('grow', createEvent(TenantSuspended, { reason: 'unpaid' }, { actor, tenant: 'grow' }));
    await tenantEvent('grow', createEvent(TenantQuotaChanged, { max_devices: 10 }, { actor, tenant: 'grow' }));
    await assert.rejects(worker.register(caller('grow'), lamp('G-3')), DeviceTenantSuspendedError);
    await tenantEvent('grow', createEvent(TenantReactivated, {}, { actor, tenant: 'grow' }));
    await worker.register(caller('grow'), lamp('G-3'));
  });

  test('a tenant whose plan lacks devices registers none, until its plan gives them', async () => {
    const meta = { actor, tenant: 'basic' };
    await tenantEvent('basic', createEvent(TenantCreated, { tenant_id: 'basic', name: 'Basic', max_users: 5, max_devices: 5, plan: 'essentials', features: [] }, meta));
    await assert.rejects(worker.register(caller('basic'), lamp('B-1')), DevicesNotInPlanError);
    await tenantEvent('basic', createEvent(TenantPlanChanged, { plan: 'standard', features_enabled: [], features_disabled: [], features: ['api_keys', 'devices'] }, meta));
    await worker.register(caller('basic'), lamp('B-1'));
  });

  test('a tenant made before device quotas gets the platform default (VIGIL_TENANT_MAX_DEVICES)', async () => {
    await tenantEvent('older', createEvent(TenantCreated, { tenant_id: 'older', name: 'Older', max_users: 5 }, { actor, tenant: 'older' }));
    const withDefault = new RegistryWorker({ bus: t.bus, logger: testLogger('registry'), defaultMaxDevices: 2 });
    try {
      await withDefault.register(caller('older'), lamp('O-1'));
      await withDefault.register(caller('older'), lamp('O-2'));
      await assert.rejects(withDefault.register(caller('older'), lamp('O-3')), DeviceQuotaExceededError);
    } finally {
      await withDefault.stop();
    }
  });

  test('a tenant identity does not know (a TALQ tenant set by configuration) has no device quota', async () => {
    for (let i = 0; i < 3; i++) await worker.register(caller('talq-city'), lamp(`T-${i}`));
  });
});
