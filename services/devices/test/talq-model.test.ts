// The TALQ gateway's pure parts: what a reading or presence event reports to the CMS, and what an override command
// from the CMS asks of which devices.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createEvent } from '@vigil/bus';
import { DeviceWentOffline, HeartbeatReceived, TelemetryReported } from '@vigil/schemas';
import type { KnownDevice } from '../src/registry/device-directory.ts';
import { deviceClassDescription, talqDeviceClass } from '../src/talq/talq-device-classes.ts';
import { logEntriesOf } from '../src/talq/talq-log-entries.ts';
import { decideOverride, type OverrideCommand } from '../src/talq/talq-override.ts';

const lampId = '01890a5d-ac96-774b-bcce-b302099a8057';
const sensorId = '01890a5d-ac96-774b-bcce-b302099a8058';
const plainId = '01890a5d-ac96-774b-bcce-b302099a8059';
const requestId = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';

function device(deviceId: string, talq?: { address: string; device_class: string }): KnownDevice {
  const profile = { device_id: deviceId, name: `Device ${deviceId.slice(-2)}`, device_type: 'streetlight', serial: `SN-${deviceId.slice(-2)}`, metadata: {}, ...(talq ? { talq } : {}) };
  return { tenant: 'acme', deviceId, serial: profile.serial, state: { status: 'active', deviceId, profile, credentials: [] } };
}
const lamp = device(lampId, { address: 'lamp-0001', device_class: 'LuminaireController' });
const sensor = device(sensorId, { address: 'sensor-0001', device_class: 'LightSensor' });
const plain = device(plainId);
const meta = (id: string) => ({ actor: { kind: 'device' as const, id }, tenant: 'acme', now: new Date('2026-03-01T12:00:01Z') });
const reading = (d: KnownDevice, values: Record<string, number>) =>
  createEvent(TelemetryReported, { device_id: d.deviceId, measured_at: '2026-03-01T12:00:00.000Z', values, source: 'mqtt' }, meta(d.deviceId));

describe('log entries', () => {
  test('a luminaire controller reading: level, power and a failure flag map to their TALQ attributes and events', () => {
    const { entries, unmapped } = logEntriesOf(reading(lamp, { lampLevel: 80, 'lampMonitor1.activeEnergy': 12.5, power: 35.5, lampFailure: 1, humidity: 3, targetLevel: 120 }), lamp);
    const at = '2026-03-01T12:00:00.000Z';
    assert.deepEqual(
      entries.map((e) => e.data),
      [
        {
          type: 'AttributeLogData',
          srcAddress: 'lamp-0001/lampActuator1',
          timestamp: at,
          attributeName: 'actualLightState',
          attributeValue: { type: 'AttributeLevelState', timestamp: at, value: { name: 'LevelState', value: 80 } },
        },
        {
          type: 'AttributeLogData',
          srcAddress: 'lamp-0001/lampMonitor1',
          timestamp: at,
          attributeName: 'activeEnergy',
          attributeValue: { type: 'AttributeFloat', timestamp: at, value: 12.5 },
        },
        {
          type: 'AttributeLogData',
          srcAddress: 'lamp-0001/lampMonitor1',
          timestamp: at,
          attributeName: 'activePower',
          attributeValue: { type: 'AttributeFloat', timestamp: at, value: 35.5 },
        },
        { type: 'EventLogData', srcAddress: 'lamp-0001/lampMonitor1', timestamp: at, eventType: 'lampFailure', startEndFlag: true },
      ],
    );
    assert.equal(unmapped, 2, 'an unknown metric and a level above 100 %');
  });

  test('a light sensor reports lightLevel; a target level becomes the lamp actuator’s targetLightCommand', () => {
    assert.deepEqual(logEntriesOf(reading(sensor, { lux: 12 }), sensor).entries[0]?.data.srcAddress, 'sensor-0001/lightSensor1');
    const [target] = logEntriesOf(reading(lamp, { targetLevel: 49.6 }), lamp).entries;
    assert.ok(target && target.data.type === 'AttributeLogData');
    assert.deepEqual(target.data.attributeValue.value, { state: { name: 'LevelState', value: 50 } });
  });

  test('presence: going offline starts communicationFailure', () => {
    const offline = createEvent(DeviceWentOffline, { device_id: lampId, source: 'mqtt', session: 's1', reason: 'heartbeat_missed' }, meta(lampId));
    assert.deepEqual(logEntriesOf(offline, lamp).entries[0]?.data, {
      type: 'EventLogData',
      srcAddress: 'lamp-0001/communication1',
      timestamp: '2026-03-01T12:00:01.000Z',
      eventType: 'communicationFailure',
      startEndFlag: true,
    });
  });

  test('nothing for heartbeats, devices without a TALQ binding, classes Vigil does not model, unknown devices', () => {
    const beat = createEvent(HeartbeatReceived, { device_id: lampId, uptime_s: 3, source: 'mqtt' }, meta(lampId));
    assert.deepEqual(logEntriesOf(beat, lamp), { entries: [], unmapped: 0 });
    assert.deepEqual(logEntriesOf(reading(plain, { lampLevel: 1 }), plain), { entries: [], unmapped: 0 });
    const odd = device(sensorId, { address: 'x', device_class: 'Teapot' });
    assert.deepEqual(logEntriesOf(reading(odd, { lampLevel: 1 }), odd), { entries: [], unmapped: 0 });
    assert.deepEqual(logEntriesOf(reading(lamp, { lampLevel: 1 }), undefined), { entries: [], unmapped: 0 });
  });

  test('the class description announces the lamp actuator’s override commands', () => {
    const model = talqDeviceClass('LuminaireController');
    assert.ok(model);
    const description = JSON.stringify(deviceClassDescription(model));
    assert.match(description, /"functionId":"lampActuator1","type":"LampActuatorFunction"/);
    assert.match(description, /"commands":\{"scope":"override","states":\[\{"name":"LevelState"\}\]/);
    assert.match(description, /"events":\[\{"type":"lampFailure"\},\{"type":"dimmingFailure"\}\]/);
  });
});

describe('override commands', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const byAddress: Record<string, KnownDevice[]> = { 'lamp-0001': [lamp], 'sensor-0001': [sensor], twice: [lamp, device(plainId, { address: 'twice', device_class: 'LuminaireController' })] };
  const resolve = (address: string) => byAddress[address] ?? [];
  const level = (value: unknown): NonNullable<OverrideCommand['targetCommand']> => ({ state: { name: 'LevelState', value } });

  test('given a lamp, when the CMS overrides it to 30 % for an hour, then one talq.override command for its lamp actuator', () => {
    const decision = decideOverride(
      {
        addresses: [{ resource: 'devices', address: 'lamp-0001' }],
        targetCommand: { ...level(30), rampToLevelTime: 2, cmsRefId: 'storm', expiration: '2026-03-01T13:00:00Z' },
      },
      resolve,
      requestId,
      now,
    );
    assert.deepEqual(decision, {
      ok: true,
      commands: [
        {
          deviceId: lampId,
          name: 'talq.override',
          parameters: {
            function: 'lampActuator1',
            talq_request_id: requestId,
            level: 30,
            reason: 'override',
            ramp_to_level_s: 2,
            expiration: '2026-03-01T13:00:00.000Z',
            cms_ref_id: 'storm',
          },
        },
      ],
    });
  });

  test('no target command releases the override; an address repeated (device, function) is one command', () => {
    const decision = decideOverride(
      { addresses: [{ resource: 'devices', address: 'lamp-0001' }, { resource: 'devices', address: 'lamp-0001/lampActuator1/targetLightCommand' }] },
      resolve,
      requestId,
      now,
    );
    assert.deepEqual(decision, { ok: true, commands: [{ deviceId: lampId, name: 'talq.override.release', parameters: { function: 'lampActuator1', talq_request_id: requestId } }] });
  });

  test('refused as a whole, with every reason: groups, unknown or shared addresses, functions without an actuator', () => {
    const decision = decideOverride(
      {
        addresses: [
          { resource: 'groups', address: 'g1' },
          { resource: 'devices', address: 'nobody' },
          { resource: 'devices', address: 'twice' },
          { resource: 'devices', address: 'sensor-0001' },
          { resource: 'devices', address: 'lamp-0001/lampMonitor1' },
          { resource: 'devices', address: 'lamp-0001' },
        ],
        targetCommand: level(30),
      },
      resolve,
      requestId,
      now,
    );
    assert.equal(decision.ok, false);
    if (decision.ok) return;
    assert.deepEqual(
      decision.errors.map((e) => [e.key, e.references?.[0]?.address.address]),
      [
        ['overrideAddressNotValid', 'g1'],
        ['resourceNotFound', 'nobody'],
        ['resourceConflict', 'twice'],
        ['overrideAddressNotValid', 'sensor-0001'],
        ['overrideAddressNotValid', 'lamp-0001/lampMonitor1'],
      ],
    );
  });

  test('commands a lamp cannot follow: another state, a level that is not a whole 0..100, an expiry in the past', () => {
    const to = [{ resource: 'devices', address: 'lamp-0001' }];
    for (const targetCommand of [{ state: { name: 'RGBState', value: 1 } }, level(101), level(50.5), level('50'), { ...level(50), expiration: '2026-03-01T11:00:00Z' }]) {
      const decision = decideOverride({ addresses: to, targetCommand }, resolve, requestId, now);
      assert.ok(!decision.ok && decision.errors[0]?.key === 'overrideCommandNotValid', JSON.stringify(targetCommand));
    }
  });
});
