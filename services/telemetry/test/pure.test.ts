// The telemetry service's pure parts, without a bus or a database: partition planning, cursors, bucket math, and
// the device read models as given events → then state.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BadRequestError, envelope, type EventDraft } from '@vigil/bus';
import type { AnyEnvelope } from '@vigil/schemas';
import { fitPage } from '../src/read-queries.ts';
import {
  bucketCount,
  bucketStart,
  daysAhead,
  decodeReadingsCursor,
  encodeReadingsCursor,
  evolveDevice,
  evolveStatus,
  expiredPartitions,
  keptWindow,
  neverSeen,
  partitionBounds,
  partitionDay,
  partitionName,
  registrySubjectOf,
  telemetrySubjectOf,
  type DeviceRecord,
  type DeviceStatus,
} from '../src/index.ts';
import { seriesRange, timeRange } from '../src/time-buckets.ts';

const at = (iso: string) => Date.parse(iso);

describe('partition plan', () => {
  test('a partition per UTC day, named by its date, bounded [midnight, next midnight)', () => {
    assert.equal(partitionName(at('2026-03-09T23:59:59.999Z')), 'telemetry_readings_p20260309');
    assert.equal(partitionName(at('2026-03-10T00:00:00.000Z')), 'telemetry_readings_p20260310');
    assert.deepEqual(partitionBounds(at('2026-12-31T12:00:00Z')), { from: '2026-12-31T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' });
    assert.equal(partitionDay('telemetry_readings_p20260310'), at('2026-03-10T00:00:00Z'));
    assert.equal(partitionDay('telemetry_readings_p20260230'), undefined, 'not a date');
    assert.equal(partitionDay('telemetry_readings_hourly'), undefined);
    assert.equal(partitionDay('other_p20260310'), undefined);
  });

  test('today and the days ahead; the kept window; expired partitions are whole days before it', () => {
    const policy = { retentionDays: 2, aheadDays: 3 };
    const now = at('2026-03-10T15:00:00Z');
    assert.deepEqual(daysAhead(now, policy).map(partitionName), ['telemetry_readings_p20260310', 'telemetry_readings_p20260311', 'telemetry_readings_p20260312', 'telemetry_readings_p20260313']);
    assert.deepEqual(keptWindow(now, policy), { from: at('2026-03-08T00:00:00Z'), until: at('2026-03-14T00:00:00Z') });
    const names = ['telemetry_readings_p20260306', 'telemetry_readings_p20260307', 'telemetry_readings_p20260308', 'telemetry_readings_p20260310', 'telemetry_readings_hourly', 'something_else'];
    assert.deepEqual(expiredPartitions(names, now, policy), ['telemetry_readings_p20260306', 'telemetry_readings_p20260307']);
    // The window moves at midnight UTC: all through the 9th the 7th is kept; from the 10th on it is gone.
    assert.deepEqual(expiredPartitions(names, at('2026-03-10T00:00:00Z'), policy), ['telemetry_readings_p20260306', 'telemetry_readings_p20260307']);
    assert.deepEqual(expiredPartitions(names, at('2026-03-09T23:59:59.999Z'), policy), ['telemetry_readings_p20260306']);
  });
});

describe('readings cursor', () => {
  test('round-trips a key exactly, and is opaque text safe in a URL', () => {
    const key = { measuredAt: at('2026-03-10T15:00:00.123Z'), metric: 'temp:c', seq: 9_007_199_254_740_991 };
    const cursor = encodeReadingsCursor(key);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeReadingsCursor(cursor), key);
  });
  test('anything else is a 400', () => {
    for (const bad of ['', 'not a cursor', Buffer.from('["r1",1.5,"m",1]').toString('base64url'), Buffer.from('["r0",1,"m",1]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')]) {
      assert.throws(() => decodeReadingsCursor(bad), BadRequestError, bad);
    }
  });
});

describe('bucket math', () => {
  test('buckets start at whole multiples of bucket_s since the epoch', () => {
    assert.equal(bucketStart(at('2026-03-10T15:07:31.500Z'), 60), at('2026-03-10T15:07:00Z'));
    assert.equal(bucketStart(at('2026-03-10T15:07:00Z'), 60), at('2026-03-10T15:07:00Z'), 'a boundary opens its bucket');
    assert.equal(bucketStart(7001, 7), 7000);
    assert.equal(bucketStart(6999, 7), 0);
    assert.equal(bucketStart(at('2026-03-10T15:07:31Z'), 86_400), at('2026-03-10T00:00:00Z'));
  });
  test('the buckets a range touches, partial ones included', () => {
    assert.equal(bucketCount(0, 60_000, 60), 1);
    assert.equal(bucketCount(0, 60_001, 60), 2);
    assert.equal(bucketCount(30_000, 90_000, 60), 2);
    assert.equal(bucketCount(5, 5, 60), 0);
  });
  test('ranges: inverted or empty refused; too many buckets refused', () => {
    assert.throws(() => timeRange('2026-03-10T00:00:00Z', '2026-03-10T00:00:00Z'), BadRequestError);
    assert.throws(() => timeRange('2026-03-11T00:00:00Z', '2026-03-10T00:00:00Z'), BadRequestError);
    assert.deepEqual(seriesRange('2026-03-10T00:00:00Z', '2026-03-10T01:00:00Z', 1), { fromMs: at('2026-03-10T00:00:00Z'), toMs: at('2026-03-10T01:00:00Z') });
    assert.throws(() => seriesRange('2026-03-10T00:00:00Z', '2026-03-11T00:00:00Z', 1), /86400 buckets/);
  });
});

describe('reply pages', () => {
  test('at most limit items, and no more bytes than the budget (but always one)', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ i, pad: 'x'.repeat(90) }));
    assert.deepEqual(fitPage(items, 10, 1e6), { page: items, more: false });
    assert.deepEqual(fitPage(items, 4, 1e6), { page: items.slice(0, 4), more: true });
    const size = Buffer.byteLength(JSON.stringify(items[0])) + 1;
    assert.deepEqual(fitPage(items, 10, size * 3), { page: items.slice(0, 3), more: true });
    assert.deepEqual(fitPage(items, 10, 1), { page: items.slice(0, 1), more: true });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Given events, then the read model
// ---------------------------------------------------------------------------------------------------------------

const tenant = 'acme';
const device = '0190a5d0-0000-7000-8000-000000000001';
const c1 = '0190a5d0-0000-7000-8000-0000000000c1';
const c2 = '0190a5d0-0000-7000-8000-0000000000c2';
const c3 = '0190a5d0-0000-7000-8000-0000000000c3';
const hash = 'ab'.repeat(32);

function events(drafts: readonly (EventDraft & { at: string })[]): AnyEnvelope[] {
  return drafts.map(({ at: when, ...draft }) => envelope(draft, { actor: { kind: 'user', id: 'u1' }, tenant, now: new Date(when) }));
}

function givenDevice(drafts: readonly (EventDraft & { at: string })[]): DeviceRecord | undefined {
  let record: DeviceRecord | undefined;
  events(drafts).forEach((e, i) => (record = evolveDevice(record, e, { tenant, deviceId: device, seq: i + 1 })));
  return record;
}

const registered = {
  type: 'device.registered',
  v: 1,
  at: '2026-03-10T10:00:00.000Z',
  data: { device_id: device, name: 'Lamp 1', device_type: 'streetlight', serial: 'SN 1', talq: { address: 'urn:talq:lamp1', device_class: 'LampActuator' }, metadata: { street: 'Main' } },
};
const issued = (id: string, when: string, replaces: string[] = [], expires?: string) => ({
  type: 'device.credential.issued',
  v: 1,
  at: when,
  data: { credential_id: id, kind: 'secret', sha256: hash, replaces, ...(expires ? { expires_at: expires } : {}) },
});

describe('device registry read model', () => {
  test('given a registration, then an active device with no credentials', () => {
    assert.deepEqual(givenDevice([registered]), {
      tenant,
      deviceId: device,
      name: 'Lamp 1',
      deviceType: 'streetlight',
      serial: 'SN 1',
      talq: { address: 'urn:talq:lamp1', device_class: 'LampActuator' },
      metadata: { street: 'Main' },
      status: 'active',
      registeredAt: '2026-03-10T10:00:00.000Z',
      credentials: [],
      lastSeq: 1,
    });
  });

  test('given credentials issued, rotated and revoked, then their lifecycle; never a hash', () => {
    const record = givenDevice([
      registered,
      issued(c1, '2026-03-10T10:01:00.000Z', [], '2027-01-01T00:00:00.000Z'),
      issued(c2, '2026-03-10T10:02:00.000Z', [c1]),
      issued(c3, '2026-03-10T10:03:00.000Z'),
      { type: 'device.credential.revoked', v: 1, at: '2026-03-10T10:04:00.000Z', data: { credential_id: c3, reason: 'lost' } },
      { type: 'device.credential.revoked', v: 1, at: '2026-03-10T10:05:00.000Z', data: { credential_id: c3, reason: 'again' } },
    ]);
    assert.deepEqual(record?.credentials, [
      { credential_id: c1, kind: 'secret', issued_at: '2026-03-10T10:01:00.000Z', expires_at: '2027-01-01T00:00:00.000Z', revoked_at: '2026-03-10T10:02:00.000Z' },
      { credential_id: c2, kind: 'secret', issued_at: '2026-03-10T10:02:00.000Z' },
      { credential_id: c3, kind: 'secret', issued_at: '2026-03-10T10:03:00.000Z', revoked_at: '2026-03-10T10:04:00.000Z' },
    ]);
    assert.ok(!JSON.stringify(record).includes(hash));
    assert.equal(record?.lastSeq, 6);
  });

  test('given a decommissioning, then decommissioned with every credential revoked then', () => {
    const record = givenDevice([registered, issued(c1, '2026-03-10T10:01:00.000Z'), { type: 'device.decommissioned', v: 1, at: '2026-03-11T00:00:00.000Z', data: { reason: 'removed' } }]);
    assert.equal(record?.status, 'decommissioned');
    assert.deepEqual(record?.credentials.map((c) => c.revoked_at), ['2026-03-11T00:00:00.000Z']);
  });

  test('given events before a registration, or a second registration, then they change nothing', () => {
    assert.equal(givenDevice([issued(c1, '2026-03-10T10:01:00.000Z')]), undefined);
    const twice = givenDevice([registered, { ...registered, data: { ...registered.data, name: 'Other' } }]);
    assert.equal(twice?.name, 'Lamp 1');
  });

  test('aggregate subjects only: serial claims and malformed ids are not devices', () => {
    assert.deepEqual(registrySubjectOf(`device.acme.${device.toUpperCase()}`), { tenant: 'acme', deviceId: device });
    assert.equal(registrySubjectOf(`device.acme.serial.${hash}`), undefined);
    assert.equal(registrySubjectOf('device.acme.not-a-uuid'), undefined);
    assert.deepEqual(telemetrySubjectOf(`telemetry.acme.${device}.reading`), { tenant: 'acme', deviceId: device, channel: 'reading' });
    assert.equal(telemetrySubjectOf(`telemetry.acme.${device}`), undefined);
  });
});

describe('device status read model', () => {
  const given = (drafts: readonly (EventDraft & { at: string })[], channels: readonly string[]): DeviceStatus =>
    events(drafts).reduce((s, e, i) => evolveStatus(s, e, channels[i] ?? 'reading'), neverSeen);
  const online = (session: string, when: string) => ({ type: 'device.presence.online', v: 1, at: when, data: { device_id: device, source: 'mqtt', session } });
  const offline = (session: string, when: string) => ({ type: 'device.presence.offline', v: 1, at: when, data: { device_id: device, source: 'mqtt', session, reason: 'connection_lost' } });
  const heartbeat = (uptime: number, when: string) => ({ type: 'device.heartbeat.received', v: 1, at: when, data: { device_id: device, uptime_s: uptime, source: 'uplink' } });
  const reading = (when: string) => ({ type: 'device.telemetry.reported', v: 1, at: when, data: { device_id: device, measured_at: '2020-01-01T00:00:00.000Z', values: { t: 1 }, source: 'mqtt' } });
  const command = (when: string) => ({
    type: 'device.command.requested',
    v: 1,
    at: when,
    data: { device_id: device, command_id: c1, name: 'dim', parameters: { level: 10 }, origin: 'api' },
  });

  test('given online, a heartbeat and a reading, then online, last seen at the last message, its uptime', () => {
    const status = given([online('s1', '2026-03-10T10:00:00.000Z'), heartbeat(42.5, '2026-03-10T10:01:00.000Z'), reading('2026-03-10T10:02:00.000Z')], ['presence', 'heartbeat', 'reading']);
    assert.deepEqual(status, { online: true, session: 's1', lastSeenAt: at('2026-03-10T10:02:00.000Z'), lastUptimeS: 42.5 });
  });

  test('last seen is the time Vigil received it, not the device clock; commands to it and going offline are not from it', () => {
    const status = given(
      [reading('2026-03-10T10:02:00.000Z'), command('2026-03-10T10:03:00.000Z'), online('s1', '2026-03-10T10:04:00.000Z'), offline('s1', '2026-03-10T10:05:00.000Z')],
      ['reading', 'command', 'presence', 'presence'],
    );
    assert.deepEqual(status, { online: false, session: null, lastSeenAt: at('2026-03-10T10:04:00.000Z'), lastUptimeS: null });
  });

  test('given a reconnect through another session, then the stale offline of the old one changes nothing', () => {
    const status = given([online('s1', '2026-03-10T10:00:00.000Z'), online('s2', '2026-03-10T10:01:00.000Z'), offline('s1', '2026-03-10T10:01:01.000Z')], ['presence', 'presence', 'presence']);
    assert.equal(status.online, true);
    assert.equal(status.session, 's2');
  });

  test('anything on the TALQ channel is a message from the device', () => {
    const talq = envelope({ type: 'device.talq.something', v: 1, data: {} }, { actor: { kind: 'device', id: device }, now: new Date('2026-03-10T11:00:00.000Z') });
    assert.equal(evolveStatus(neverSeen, talq, 'talq').lastSeenAt, at('2026-03-10T11:00:00.000Z'));
    assert.equal(evolveStatus(neverSeen, talq, 'command'), neverSeen);
  });
});
