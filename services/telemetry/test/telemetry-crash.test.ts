// Exactly-once in effect: a projector killed between its commit and its acks, then a survivor taking over, and a
// publish retried by a device service: every reading is in Postgres once (rows counted), on PostgreSQL and PGlite.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { append, createEvent } from '@vigil/bus';
import { telemetrySubject } from '@vigil/devices-contract';
import { StreamName, TelemetryReported } from '@vigil/schemas';
import { openDatabase, readCheckpoint, rowsOf, startProjector, type Database } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus, testLogger, testNamespace, type TestBus, type TestDatabase } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import { createTelemetryProjection, telemetryReadings } from '../src/index.ts';
import { caughtUp, report } from './telemetry-fixture.ts';

let t: TestBus;
before(async () => {
  t = await startTestBus();
});
after(async () => {
  await t.close();
});

const devices = ['0190a5d0-0000-7000-8000-0000000000d1', '0190a5d0-0000-7000-8000-0000000000d2', '0190a5d0-0000-7000-8000-0000000000d3'];

async function counts(database: Database): Promise<{ rows: number; distinct: number }> {
  const row = rowsOf(await database.db.execute(sql`select count(*)::int as rows, count(distinct (seq, metric))::int as distinct from ${telemetryReadings}`))[0];
  return { rows: Number(row?.['rows']), distinct: Number(row?.['distinct']) };
}

const kinds = await availableDatabaseKinds();

describe('a telemetry projector killed between commit and ack', () => {
  for (const kind of kinds) {
    test(`applies every reading once after a survivor takes over (${kind})`, async () => {
      const bus = await t.connect(`crash-${kind}`, { namespace: testNamespace() });
      const pgliteDir = await mkdtemp(join(tmpdir(), 'vigil-telemetry-pglite-'));
      const db: TestDatabase | undefined = kind === 'postgres' ? await createTestDatabase('postgres') : undefined;
      try {
        const at = Date.now() - 60_000;
        for (let i = 0; i < 40; i++) await report(bus, 'acme', devices[i % 3] ?? '', at + i * 250, { temp: i, humidity: 100 - i });
        const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'crash-after-commit.ts')], {
          env: { ...process.env, NATS_URL: t.nats.url, VIGIL_NAMESPACE: bus.names.namespace, BATCH_SIZE: '10', PGLITE_DIR: pgliteDir, DATABASE_URL: db?.url ?? '' },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, s) => resolve(s)));
        assert.equal(signal, 'SIGKILL');
        const database = db?.database ?? (await openDatabase({ logger: testLogger(), dataDir: pgliteDir }));
        try {
          // A batch is what had arrived when the transaction began (group commit), at most BATCH_SIZE: on a busy machine
          // the first one can be shorter. The events are the stream's first, so the checkpoint is the batch's length.
          const committed = await readCheckpoint(database, 'telemetry');
          assert.ok(committed >= 1 && committed <= 10, `the first batch was committed before the crash (checkpoint ${committed})`);
          assert.deepEqual(await counts(database), { rows: 2 * committed, distinct: 2 * committed }, 'that batch, two readings an event, and nothing after it');
          // Never acked: the server redelivers that batch to the survivor, which must apply none of it again.
          const projection = createTelemetryProjection({ policy: { retentionDays: 30, aheadDays: 7 } });
          const survivor = await startProjector(bus, database, projection, { instance: 'survivor', batchSize: 7, leaseTtlMs: 1000 });
          try {
            await caughtUp(bus, database, 'telemetry', StreamName.DeviceTelemetry);
            assert.deepEqual(await counts(database), { rows: 80, distinct: 80 });
            // A device service retrying a publish (same event id): the server stores it once, so it is projected once.
            const event = createEvent(TelemetryReported, { device_id: devices[0] ?? '', measured_at: new Date(at).toISOString(), values: { temp: -1 }, source: 'mqtt' }, { actor: { kind: 'device', id: devices[0] ?? '' }, tenant: 'acme' });
            const subject = telemetrySubject('acme', devices[0] ?? '', 'reading');
            const first = await append(bus, subject, event);
            const again = await append(bus, subject, event);
            assert.equal(again.duplicate, true);
            assert.equal(again.seq, first.seq);
            await caughtUp(bus, database, 'telemetry', StreamName.DeviceTelemetry);
            assert.deepEqual(await counts(database), { rows: 81, distinct: 81 });
          } finally {
            await survivor.stop();
          }
        } finally {
          if (!db) await database.close();
        }
      } finally {
        await db?.close();
        await rm(pgliteDir, { recursive: true, force: true });
        for (const s of bus.streams) await bus.jsm.streams.delete(bus.names.stream(s.name)).catch(() => false);
      }
    });
  }
});
