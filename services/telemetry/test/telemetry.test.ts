// The telemetry service on real NATS and on PostgreSQL and PGlite: device read models, readings pages, series,
// partitions and retention, and a rebuild from the streams giving the same rows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BadRequestError, WorkerTimeoutError, type Bus } from '@vigil/bus';
import { DeviceNotFoundError, deviceSubjects, parseDevicePage, parseDeviceView, parseReadingsPage, parseSeries } from '@vigil/devices-contract';
import type { StartedService } from '@vigil/runtime';
import { StreamName } from '@vigil/schemas';
import { compareWithRebuild, rebuildProjection, rowsOf, schema, type Database } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus, testNamespace, type TestBus, type TestDatabase } from '@vigil/testkit';
import { asc, getTableColumns, sql } from 'drizzle-orm';
import {
  createTelemetryProjection,
  devicesProjection,
  listPartitions,
  maintainTelemetryStorage,
  partitionName,
  partitionsAheadDays,
  telemetryReadings,
} from '../src/index.ts';
import { ask, caller, caughtUp, decommission, heartbeat, issueCredential, presence, register, replay, report, startTelemetry } from './telemetry-fixture.ts';

const day = 86_400_000;
const acme = 'acme';
const globex = 'globex';
const id = (n: number) => `0190a5d0-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
const lamp = id(1);
const retired = id(2);
const foreign = id(3);
const c1 = id(0xc1);
const c2 = id(0xc2);

let t: TestBus;
before(async () => {
  t = await startTestBus();
});
after(async () => {
  await t.close();
});

interface Expected {
  readonly measuredAt: number;
  readonly metric: string;
  readonly seq: number;
  readonly value: number;
}

/** The order the service promises: (measured_at, metric in byte order, seq). */
const byKey = (a: Expected, b: Expected) => a.measuredAt - b.measuredAt || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0) || a.seq - b.seq;

async function allPages(bus: Bus, query: Record<string, unknown>): Promise<{ readings: { measured_at: string; metric: string; value: number }[]; pages: number }> {
  const readings: { measured_at: string; metric: string; value: number }[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await ask(bus, deviceSubjects.readings, { ...query, ...(after ? { after } : {}) }, parseReadingsPage, caller(acme));
    readings.push(...page.readings);
    after = page.next;
    pages++;
    assert.ok(pages < 1000, 'paging ends');
  } while (after);
  return { readings, pages };
}

async function snapshot(database: Database) {
  const db = database.db;
  const r = telemetryReadings;
  return {
    readings: await db.select().from(r).orderBy(asc(r.tenant), asc(r.deviceId), asc(r.seq), asc(r.metric)),
    devices: await db.select().from(schema.devices).orderBy(asc(schema.devices.tenant), asc(schema.devices.deviceId)),
    status: await db.select().from(schema.deviceStatus).orderBy(asc(schema.deviceStatus.tenant), asc(schema.deviceStatus.deviceId)),
  };
}

async function countReadings(database: Database, where = sql`true`): Promise<number> {
  return Number(rowsOf(await database.db.execute(sql`select count(*)::int as n from ${telemetryReadings} where ${where}`))[0]?.['n']);
}

for (const kind of await availableDatabaseKinds()) {
  describe(`telemetry on ${kind}`, () => {
    let bus: Bus;
    let db: TestDatabase;
    let service: StartedService | undefined;
    const now = Date.now();
    // Readings of the paging and series tests: the last two hours, so a retention of one day keeps them.
    const base = Math.floor((now - 2 * 3600_000) / 1000) * 1000;
    const expected: Expected[] = [];

    before(async () => {
      bus = await t.connect(`telemetry-${kind}`, { namespace: testNamespace() });
      db = await createTestDatabase(kind);
      service = await startTelemetry(bus, db.database);
    });
    after(async () => {
      await service?.stop();
      await db.close();
      for (const s of bus.streams) await bus.jsm.streams.delete(bus.names.stream(s.name)).catch(() => false);
    });

    test('storage: a partitioned table, partitions from today to a week ahead', async () => {
      const details = await service?.details?.();
      assert.equal(details?.['storage'], 'partitioned');
      const partitions = await listPartitions(db.database);
      for (let i = 0; i <= partitionsAheadDays; i++) assert.ok(partitions.includes(partitionName(now + i * day)), `partition for today + ${i}`);
      // The Drizzle declaration and the DDL the service owns describe the same columns.
      const columns = rowsOf(
        await db.database.db.execute(sql`select column_name::text as name, data_type::text as type from information_schema.columns where table_name = 'telemetry_readings' order by ordinal_position`),
      );
      assert.deepEqual(
        columns.map((c) => c['name']),
        Object.values(getTableColumns(telemetryReadings)).map((c) => c.name),
      );
    });

    test('devices: registration, credentials, decommissioning and presence, for the caller tenant only', async () => {
      await register(bus, acme, lamp, 'Lamp 1');
      await issueCredential(bus, acme, lamp, c1);
      const lastLamp = await issueCredential(bus, acme, lamp, c2, [c1]);
      await register(bus, acme, retired);
      await decommission(bus, acme, retired);
      await register(bus, globex, foreign);
      await presence(bus, acme, lamp, true, 's1');
      await heartbeat(bus, acme, lamp, 12.5);
      await caughtUp(bus, db.database, 'telemetry', StreamName.DeviceTelemetry);
      await caughtUp(bus, db.database, 'devices', StreamName.DeviceRegistry);

      const view = await ask(bus, deviceSubjects.get, { device_id: lamp, min_seq: lastLamp }, parseDeviceView, caller(acme));
      assert.equal(view.name, 'Lamp 1');
      assert.equal(view.status, 'active');
      assert.deepEqual(view.talq, { address: `urn:talq:${lamp}`, device_class: 'LampActuator' });
      assert.deepEqual(view.metadata, { site: 'north' });
      assert.deepEqual(
        view.credentials.map((c) => [c.credential_id, c.revoked_at !== undefined]),
        [
          [c1, true],
          [c2, false],
        ],
      );
      assert.ok(!JSON.stringify(view).includes('cd'.repeat(32)), 'no credential hash in a view');
      assert.equal(view.online, true);
      assert.equal(view.last_uptime_s, 12.5);
      assert.ok(view.last_seen_at && Date.parse(view.last_seen_at) >= now - 60_000);

      const old = await ask(bus, deviceSubjects.get, { device_id: retired, min_seq: 0 }, parseDeviceView, caller(acme));
      assert.equal(old.status, 'decommissioned');
      assert.equal(old.online, false);
      assert.equal(old.last_seen_at, undefined);

      await assert.rejects(ask(bus, deviceSubjects.get, { device_id: foreign }, parseDeviceView, caller(acme)), DeviceNotFoundError, "another tenant's device");
      await assert.rejects(ask(bus, deviceSubjects.get, { device_id: id(999) }, parseDeviceView, caller(acme)), DeviceNotFoundError);
      await assert.rejects(ask(bus, deviceSubjects.get, { device_id: lamp }, parseDeviceView), BadRequestError, 'no caller');
      await assert.rejects(ask(bus, deviceSubjects.get, { device_id: lamp }, parseDeviceView, { actor: { kind: 'user', id: 'u' } }), BadRequestError, 'a caller without a tenant');
      const theirs = await ask(bus, deviceSubjects.get, { device_id: foreign }, parseDeviceView, caller(globex));
      assert.equal(theirs.device_id, foreign);

      await presence(bus, acme, lamp, false, 's1');
      await caughtUp(bus, db.database, 'telemetry', StreamName.DeviceTelemetry);
      assert.equal((await ask(bus, deviceSubjects.get, { device_id: lamp }, parseDeviceView, caller(acme))).online, false);
    });

    test('devices list: keyset pages with no gap or repeat, a status filter, one tenant', async () => {
      const ids = Array.from({ length: 7 }, (_, i) => id(0x100 + i));
      for (const d of ids) await register(bus, 'paging', d);
      let lastSeq = 0;
      for (const d of ids.slice(0, 2)) lastSeq = await decommission(bus, 'paging', d);
      const seen: string[] = [];
      let after: string | undefined;
      do {
        const page = await ask(bus, deviceSubjects.list, { limit: 3, min_seq: lastSeq, ...(after ? { after } : {}) }, parseDevicePage, caller('paging'));
        assert.ok(page.devices.length <= 3);
        seen.push(...page.devices.map((d) => d.device_id));
        after = page.next;
      } while (after);
      assert.deepEqual(seen, [...ids].sort());
      const retiredOnes = await ask(bus, deviceSubjects.list, { limit: 100, status: 'decommissioned' }, parseDevicePage, caller('paging'));
      assert.deepEqual(retiredOnes.devices.map((d) => d.device_id).sort(), ids.slice(0, 2).sort());
      assert.equal(retiredOnes.next, undefined);
      const acmeOnly = await ask(bus, deviceSubjects.list, { limit: 100 }, parseDevicePage, caller(acme));
      assert.deepEqual(acmeOnly.devices.map((d) => d.device_id).sort(), [lamp, retired].sort());
    });

    test('read-your-writes: min_seq waits for the projection; one it never reaches is a bounded 504', async () => {
      const fresh = id(0x200);
      const seq = await register(bus, acme, fresh, 'Fresh');
      const view = await ask(bus, deviceSubjects.get, { device_id: fresh, min_seq: seq }, parseDeviceView, caller(acme));
      assert.equal(view.name, 'Fresh');
      const started = Date.now();
      await assert.rejects(ask(bus, deviceSubjects.get, { device_id: fresh, min_seq: seq + 1_000_000 }, parseDeviceView, caller(acme)), WorkerTimeoutError);
      assert.ok(Date.now() - started < 10_000);
    });

    test('readings: pages of any size give every reading once, in (measured_at, metric, seq) order', async () => {
      // 150 events of three metrics; every fifth repeats the previous instant, so ties are broken by metric and seq.
      let at = base;
      for (let i = 0; i < 150; i++) {
        if (i % 5 !== 0) at += 1000 + (i % 7);
        const values = { temp: 20 + Math.sin(i) * 5, humidity: 40 + (i % 13), 'volt:l1': 230 - i / 10 };
        const seq = await report(bus, acme, lamp, at, values);
        for (const [metric, value] of Object.entries(values)) expected.push({ measuredAt: at, metric, seq, value });
      }
      const last = await report(bus, acme, foreign, base, { temp: 99 });
      await caughtUp(bus, db.database, 'telemetry', StreamName.DeviceTelemetry);
      expected.sort(byKey);
      const query = { device_id: lamp, from: new Date(base).toISOString(), to: new Date(at + 1).toISOString(), min_seq: last };
      for (const limit of [1000, 37, 1]) {
        const { readings, pages } = await allPages(bus, { ...query, limit });
        assert.deepEqual(
          readings,
          expected.map((e) => ({ measured_at: new Date(e.measuredAt).toISOString(), metric: e.metric, value: e.value })),
          `limit ${limit}`,
        );
        assert.equal(pages, Math.ceil(expected.length / limit), `limit ${limit}: a page ending on the last reading says there is no next`);
      }
      const temps = await allPages(bus, { ...query, metric: 'temp', limit: 11 });
      assert.deepEqual(
        temps.readings.map((r) => [r.measured_at, r.value]),
        expected.filter((e) => e.metric === 'temp').map((e) => [new Date(e.measuredAt).toISOString(), e.value]),
      );
      // [from, to): a reading at `to` is left out, one at `from` is in.
      const cut = expected[60]?.measuredAt ?? 0;
      const part = await allPages(bus, { ...query, from: new Date(cut).toISOString(), to: new Date(at).toISOString(), limit: 50 });
      assert.equal(part.readings.length, expected.filter((e) => e.measuredAt >= cut && e.measuredAt < at).length);
      await assert.rejects(ask(bus, deviceSubjects.readings, { ...query, device_id: foreign, limit: 10 }, parseReadingsPage, caller(acme)), DeviceNotFoundError);
      await assert.rejects(ask(bus, deviceSubjects.readings, { ...query, limit: 10, after: 'forged' }, parseReadingsPage, caller(acme)), BadRequestError);
    });

    test('series: epoch-aligned buckets, avg/min/max/count as computed here', async () => {
      const temps = expected.filter((e) => e.metric === 'temp');
      const first = temps[0]?.measuredAt ?? 0;
      const lastAt = temps.at(-1)?.measuredAt ?? 0;
      for (const bucketS of [60, 7, 3600]) {
        // From the middle of a bucket: the first bucket is partial, and still starts on the epoch grid.
        const from = first + 2500;
        const to = lastAt - 1500;
        const buckets = new Map<number, number[]>();
        for (const e of temps) {
          if (e.measuredAt < from || e.measuredAt >= to) continue;
          const start = Math.floor(e.measuredAt / (bucketS * 1000)) * bucketS * 1000;
          buckets.set(start, [...(buckets.get(start) ?? []), e.value]);
        }
        const series = await ask(
          bus,
          deviceSubjects.series,
          { device_id: lamp, metric: 'temp', from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucket_s: bucketS },
          parseSeries,
          caller(acme),
        );
        assert.equal(series.bucket_s, bucketS);
        const want = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
        assert.deepEqual(
          series.buckets.map((b) => [b.start, b.count, b.min, b.max]),
          want.map(([start, values]) => [new Date(start).toISOString(), values.length, Math.min(...values), Math.max(...values)]),
          `bucket_s ${bucketS}`,
        );
        for (const [i, [, values]] of want.entries()) {
          const avg = values.reduce((a, b) => a + b, 0) / values.length;
          assert.ok(Math.abs((series.buckets[i]?.avg ?? NaN) - avg) <= 1e-9 * Math.abs(avg), `avg of bucket ${i}`);
        }
      }
      await assert.rejects(
        ask(bus, deviceSubjects.series, { device_id: lamp, metric: 'temp', from: new Date(base).toISOString(), to: new Date(base + day).toISOString(), bucket_s: 1 }, parseSeries, caller(acme)),
        BadRequestError,
        'too many buckets',
      );
      await assert.rejects(
        ask(bus, deviceSubjects.series, { device_id: foreign, metric: 'temp', from: new Date(base).toISOString(), to: new Date(now).toISOString(), bucket_s: 60 }, parseSeries, caller(acme)),
        DeviceNotFoundError,
      );
    });

    test('partitions: a late or early reading gets its day made; readings beyond the kept window are not stored', async () => {
      const late = now - 3 * day;
      const early = now + 5 * day;
      assert.ok(!(await listPartitions(db.database)).includes(partitionName(late)));
      // As if the maintenance pass that makes this day had not run yet.
      await db.database.db.execute(sql`drop table ${sql.identifier(partitionName(early))}`);
      await report(bus, acme, lamp, late, { temp: 1, humidity: 2 });
      await report(bus, acme, lamp, early, { temp: 5 });
      await report(bus, acme, lamp, now - 40 * day, { temp: 3 });
      await report(bus, acme, lamp, now + (partitionsAheadDays + 2) * day, { temp: 4 });
      await caughtUp(bus, db.database, 'telemetry', StreamName.DeviceTelemetry);
      const partitions = await listPartitions(db.database);
      assert.ok(partitions.includes(partitionName(late)) && partitions.includes(partitionName(early)));
      assert.equal(await countReadings(db.database, sql`measured_at = ${new Date(early).toISOString()}::timestamptz`), 1);
      const page = await ask(
        bus,
        deviceSubjects.readings,
        { device_id: lamp, from: new Date(late - 1).toISOString(), to: new Date(late + 1).toISOString(), limit: 10 },
        parseReadingsPage,
        caller(acme),
      );
      assert.deepEqual(page.readings.map((r) => r.metric).sort(), ['humidity', 'temp']);
      assert.equal(await countReadings(db.database, sql`value in (3, 4) and metric = 'temp' and device_id = ${lamp}::uuid`), 0);
      assert.equal((await service?.details?.())?.['readings_out_of_window'], 2);
    });

    test('rebuilt from the streams, every read model has the same rows; verify finds it equal', async () => {
      const telemetry = createTelemetryProjection({ policy: { retentionDays: 30, aheadDays: partitionsAheadDays } });
      const before = await snapshot(db.database);
      assert.equal(before.readings.length, expected.length + 1 + 3);
      await service?.stop();
      service = undefined;
      for (const p of [devicesProjection, telemetry]) await rebuildProjection(bus, db.database, p, { instance: 'rebuild', batchSize: 64 });
      assert.deepEqual(await snapshot(db.database), before);
      for (const p of [devicesProjection, telemetry]) {
        const comparison = await compareWithRebuild(db.database, p, (untilSeq) => replay(bus, p.stream, untilSeq));
        assert.ok(comparison.equal, JSON.stringify(comparison));
        assert.ok(comparison.tables.every((table) => table.live.rows > 0));
      }
    });

    test('retention drops whole expired partitions, never what is kept', async () => {
      const late = now - 3 * day;
      const kept = await countReadings(db.database, sql`measured_at >= ${new Date(now - day).toISOString()}::timestamptz`);
      const result = await maintainTelemetryStorage(db.database, { retentionDays: 1, aheadDays: partitionsAheadDays }, now);
      assert.ok(result.dropped.includes(partitionName(late)), JSON.stringify(result));
      assert.ok(!(await listPartitions(db.database)).includes(partitionName(late)));
      assert.equal(await countReadings(db.database, sql`measured_at < ${new Date(now - day).toISOString()}::timestamptz`), 0);
      assert.equal(await countReadings(db.database), kept);
      assert.deepEqual((await maintainTelemetryStorage(db.database, { retentionDays: 1, aheadDays: partitionsAheadDays }, now)).dropped, [], 'idempotent');
    });
  });
}
