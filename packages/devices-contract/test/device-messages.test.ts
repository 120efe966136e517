// What devices send, read strictly: topics and payloads, with properties over arbitrary input.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { commandTopic, parseDeviceTopic, parseHeartbeatPayload, parseTalqAttributePayload, parseTelemetryPayload } from '../src/index.ts';

const device = '01890a5d-ac96-774b-bcce-b302099a8057';
const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const now = new Date('2026-06-01T12:00:00Z');

describe('device topics', () => {
  test('a device topic names the tenant, the device and the channel', () => {
    assert.deepEqual(parseDeviceTopic(`v1/acme/${device}/telemetry`), { tenant: 'acme', deviceId: device, channel: { kind: 'telemetry' } });
    assert.deepEqual(parseDeviceTopic(`v1/acme/${device}/talq/lamp/1`), { tenant: 'acme', deviceId: device, channel: { kind: 'talq', path: 'lamp/1' } });
    assert.deepEqual(parseDeviceTopic(commandTopic('acme', device)), { tenant: 'acme', deviceId: device, channel: { kind: 'commands' } });
  });

  test('wildcards, other versions, bad tenants and ids, extra levels are not device topics', () => {
    for (const topic of [
      `v1/acme/${device}/#`,
      `v1/acme/+/telemetry`,
      `v2/acme/${device}/telemetry`,
      `v1/Acme/${device}/telemetry`,
      `v1/acme/not-a-uuid/telemetry`,
      `v1/acme/${device}/telemetry/x`,
      `v1/acme/${device}/talq`,
      `v1/acme/${device}/talq//x`,
      `v1/acme/${device}/talq/+`,
      `v1/acme/${device.toUpperCase()}/telemetry`,
    ]) {
      assert.equal(parseDeviceTopic(topic), undefined, topic);
    }
  });

  test('property: no topic parses into a device other than the one it names, and parsing never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (topic) => {
        const parsed = parseDeviceTopic(topic);
        if (parsed) assert.ok(topic.startsWith(`v1/${parsed.tenant}/${parsed.deviceId}/`));
      }),
    );
  });
});

describe('telemetry payloads', () => {
  test('readings under "values" or flat, with an optional time in epoch ms or RFC 3339', () => {
    assert.deepEqual(parseTelemetryPayload(bytes({ values: { temperature: 21.5, lux: 300 } }), now), { ok: true, value: { measuredAt: undefined, values: { temperature: 21.5, lux: 300 } } });
    const at = Date.parse('2026-06-01T11:59:00Z');
    assert.deepEqual(parseTelemetryPayload(bytes({ ts: at, power: 12 }), now), { ok: true, value: { measuredAt: new Date(at), values: { power: 12 } } });
    assert.deepEqual(parseTelemetryPayload(bytes({ ts: '2026-06-01T11:59:00Z', values: { power: 12 } }), now), { ok: true, value: { measuredAt: new Date(at), values: { power: 12 } } });
  });

  test('refused with a reason: not JSON, not an object, no readings, non-numbers, bad names, bad or future times, both forms', () => {
    const refused = (value: unknown) => {
      const read = parseTelemetryPayload(bytes(value), now);
      return read.ok ? 'accepted' : read.problem;
    };
    assert.equal(refused('{"values":'), 'not UTF-8 JSON');
    assert.equal(parseTelemetryPayload(new Uint8Array([0xff, 0xfe, 0x7b]), now).ok, false);
    assert.equal(refused([1, 2]), 'not a JSON object');
    assert.equal(refused({}), 'no readings');
    assert.match(refused({ values: { t: 'hot' } }), /not a finite number/);
    assert.match(refused({ 'bad name': 1 }), /not a metric name/);
    assert.match(refused({ ts: 'yesterday', t: 1 }), /"ts"/);
    assert.match(refused({ ts: now.getTime() + 3_600_000, t: 1 }), /future/);
    assert.match(refused({ values: { a: 1 }, b: 2 }), /both/);
    assert.match(refused(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`m${i}`, i]))), /more than 64/);
  });

  test('property: any bytes give an answer, never an exception; accepted readings are finite numbers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.json().map((j) => bytes(j))), (payload) => {
        const read = parseTelemetryPayload(payload, now);
        if (read.ok) for (const v of Object.values(read.value.values)) assert.ok(Number.isFinite(v));
      }),
    );
  });
});

describe('heartbeat payloads', () => {
  test('{"uptime": seconds} and nothing else', () => {
    assert.deepEqual(parseHeartbeatPayload(bytes({ uptime: 42 })), { ok: true, value: { uptimeSeconds: 42 } });
    assert.equal(parseHeartbeatPayload(bytes({ uptime: -1 })).ok, false);
    assert.equal(parseHeartbeatPayload(bytes({ uptime: 1, extra: 2 })).ok, false);
    assert.equal(parseHeartbeatPayload(bytes('up')).ok, false);
  });
});

describe('TALQ attribute payloads', () => {
  test('on talq/<functionId>/<attributeName>: a number or a boolean, bare or as "value" with an optional time', () => {
    assert.deepEqual(parseTalqAttributePayload('lampMonitor1/activePower', bytes({ value: 48.5 }), now), { ok: true, value: { metric: 'lampMonitor1.activePower', value: 48.5, measuredAt: undefined } });
    assert.deepEqual(parseTalqAttributePayload('lampMonitor1/lampFailure', bytes(true), now), { ok: true, value: { metric: 'lampMonitor1.lampFailure', value: 1, measuredAt: undefined } });
    assert.deepEqual(parseTalqAttributePayload('lampActuator1/actualLightState', bytes({ value: 30, ts: '2026-06-01T11:59:00Z' }), now), {
      ok: true,
      value: { metric: 'lampActuator1.actualLightState', value: 30, measuredAt: new Date('2026-06-01T11:59:00Z') },
    });
  });

  test('refused: other path shapes, strings, extra fields, bad times', () => {
    for (const [path, payload] of [
      ['lampMonitor1', { value: 1 }],
      ['a/b/c', { value: 1 }],
      ['1lamp/power', { value: 1 }],
      ['lamp/power', { value: 'on' }],
      ['lamp/power', { value: 1, unit: 'W' }],
      ['lamp/power', { value: 1, ts: 'soon' }],
    ] as const) {
      assert.equal(parseTalqAttributePayload(path, bytes(payload), now).ok, false, `${path} ${JSON.stringify(payload)}`);
    }
  });
});
