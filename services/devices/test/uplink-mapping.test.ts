// The uplink's pure parts: topic patterns, message mapping and the reconnect backoff, without a broker or a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelay } from '../src/backoff.ts';
import type { KnownDevice } from '../src/registry/device-directory.ts';
import { uplinkMessageEvent, type UplinkContext } from '../src/uplink/uplink-message.ts';
import { compileTopicPatterns, readUplinkTopic, UplinkTopicError } from '../src/uplink/uplink-topics.ts';

const fundamentum = ['registries/{registry}/devices/{serial}/events/#', 'registries/{registry}/devices/{serial}/states/#', 'registries/{registry}/devices/{serial}/heartbeat'];
const deviceId = '01890a5d-ac96-774b-bcce-b302099a8057';
const lamp: KnownDevice = {
  tenant: 'acme',
  deviceId,
  serial: 'SN-1',
  state: { status: 'active', deviceId, profile: { device_id: deviceId, name: 'Lamp', device_type: 'streetlight', serial: 'SN-1', metadata: {} }, credentials: [] },
};
const context: UplinkContext = {
  tenant: 'acme',
  patterns: compileTopicPatterns(fundamentum, '42'),
  bySerial: (tenant, serial) => (tenant === 'acme' && serial === 'SN-1' ? lamp : undefined),
  now: new Date('2026-03-01T12:00:00Z'),
};
const bytes = (s: string) => new TextEncoder().encode(s);

describe('topic patterns', () => {
  test('Fundamentum topics: events and states (with or without a subtype) are telemetry, heartbeat is heartbeat', () => {
    const patterns = compileTopicPatterns(fundamentum, '42');
    assert.deepEqual(
      patterns.map((p) => p.filter),
      ['registries/42/devices/+/events/#', 'registries/42/devices/+/states/#', 'registries/42/devices/+/heartbeat'],
    );
    assert.deepEqual(readUplinkTopic(patterns, 'registries/42/devices/SN-1/events'), { serial: 'SN-1', channel: 'telemetry' });
    assert.deepEqual(readUplinkTopic(patterns, 'registries/42/devices/SN-1/states/power'), { serial: 'SN-1', channel: 'telemetry' });
    assert.deepEqual(readUplinkTopic(patterns, 'registries/42/devices/SN-1/heartbeat'), { serial: 'SN-1', channel: 'heartbeat' });
    assert.equal(readUplinkTopic(patterns, 'registries/43/devices/SN-1/events'), undefined, 'another registry');
    assert.equal(readUplinkTopic(patterns, 'registries/42/devices/SN-1/heartbeat/extra'), undefined);
    assert.equal(readUplinkTopic(patterns, 'registries/42/devices//events'), undefined, 'an empty serial');
    assert.equal(readUplinkTopic(patterns, 'registries/42/devices/SN-1/custom_actions'), undefined);
  });

  test('bad patterns are refused with the reason', () => {
    assert.throws(() => compileTopicPatterns(['registries/{registry}/devices/+/events'], '42'), /\{serial\} exactly once/);
    assert.throws(() => compileTopicPatterns(['a/{serial}/{serial}'], undefined), /\{serial\} exactly once/);
    assert.throws(() => compileTopicPatterns(['a/#/{serial}'], undefined), /# must be the last level/);
    assert.throws(() => compileTopicPatterns(['a/{serial}/x{device}'], undefined), /unknown placeholder/);
    assert.throws(() => compileTopicPatterns(fundamentum, undefined), /needs VIGIL_UPLINK_REGISTRY/);
    assert.throws(() => compileTopicPatterns(fundamentum, '4/2'), UplinkTopicError);
    assert.throws(() => compileTopicPatterns([], '42'), UplinkTopicError);
  });
});

describe('message mapping', () => {
  test('telemetry and heartbeats become events of the device with that serial, in the configured tenant', () => {
    const t = uplinkMessageEvent({ topic: 'registries/42/devices/SN-1/states', payload: bytes('{"lampLevel": 40}') }, context);
    assert.equal(t.kind, 'event');
    if (t.kind !== 'event') return;
    assert.equal(t.subject, `telemetry.acme.${deviceId}.reading`);
    assert.equal(t.event.type, 'device.telemetry.reported');
    assert.deepEqual(t.event.data, { device_id: deviceId, measured_at: '2026-03-01T12:00:00.000Z', values: { lampLevel: 40 }, source: 'uplink' });
    const h = uplinkMessageEvent({ topic: 'registries/42/devices/SN-1/heartbeat', payload: bytes('{"uptime": 5}') }, context);
    assert.ok(h.kind === 'event' && h.subject === `telemetry.acme.${deviceId}.heartbeat`);
  });

  test('refusals: an unknown serial, a malformed payload, a topic no pattern covers', () => {
    assert.deepEqual(uplinkMessageEvent({ topic: 'registries/42/devices/SN-2/events', payload: bytes('{"a": 1}') }, context), {
      kind: 'unknown_serial',
      serial: 'SN-2',
    });
    const bad = uplinkMessageEvent({ topic: 'registries/42/devices/SN-1/events', payload: bytes('{"a": "x"}') }, context);
    assert.equal(bad.kind, 'malformed');
    const beat = uplinkMessageEvent({ topic: 'registries/42/devices/SN-1/heartbeat', payload: bytes('{"values": {"a": 1}}') }, context);
    assert.equal(beat.kind, 'malformed', 'a heartbeat holds only "uptime"');
    assert.deepEqual(uplinkMessageEvent({ topic: 'elsewhere/SN-1', payload: bytes('{}') }, context), { kind: 'unmapped_topic' });
  });
});

describe('reconnect backoff', () => {
  const bounds = { minMs: 100, maxMs: 10_000 };
  test('the ceiling doubles up to the maximum; the wait is in its upper half', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, bounds, () => 0)), [50, 100, 200, 400]);
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, bounds, () => 0.999_999)), [100, 200, 400, 800]);
    assert.equal(backoffDelay(30, bounds, () => 0.999_999), 10_000);
    assert.equal(backoffDelay(1000, bounds, () => 0), 5000);
  });
  test('whatever the jitter, a later attempt never waits less (below the maximum)', () => {
    for (let n = 1; n < 7; n++) {
      for (const r of [0, 0.3, 0.999]) for (const s of [0, 0.6, 0.999]) assert.ok(backoffDelay(n + 1, bounds, () => s) >= backoffDelay(n, bounds, () => r));
    }
  });
});
