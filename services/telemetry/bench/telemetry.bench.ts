// Telemetry events projected per second into telemetry_readings (partitioned by day) and device_status, through the
// bus and the projector runtime, against raw inserts of the same rows in the same run: multi-row INSERTs of the same
// batch size straight through the driver (and, on PostgreSQL, COPY), no bus, no checkpoint, no status.
import { append, createEvent } from '@vigil/bus';
import { telemetrySubject } from '@vigil/devices-contract';
import { StreamName, TelemetryReported } from '@vigil/schemas';
import { readCheckpoint, startProjector } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, emitBenchLine, pipelined, startTestBus, testNamespace } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createTelemetryProjection, prepareTelemetryStorage, telemetryReadings } from '../src/index.ts';
import { ensurePartitions } from '../src/telemetry-storage.ts';

const count = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const deviceCount = 200;
const batchSize = 1000;
const window = 256;
const tenant = 'bench';
const metrics = ['temperature', 'humidity', 'voltage'];
const policy = { retentionDays: 30, aheadDays: 7 };

const deviceIds = Array.from({ length: deviceCount }, (_, i) => `0190a5d0-0000-7000-8000-${i.toString(16).padStart(12, '0')}`);
const start = Date.now() - 3600_000;
const events = Array.from({ length: count }, (_, i) => {
  const deviceId = deviceIds[i % deviceCount] ?? '';
  return createEvent(
    TelemetryReported,
    { device_id: deviceId, measured_at: new Date(start + Math.floor(i / deviceCount) * 1000).toISOString(), values: { temperature: 20 + (i % 10), humidity: 40 + (i % 7), voltage: 230 - (i % 5) }, source: 'mqtt' },
    { actor: { kind: 'device', id: deviceId }, tenant },
  );
});
const rowsOfBatch = (from: number) =>
  events.slice(from, from + batchSize).flatMap((e, j) =>
    metrics.map((metric) => ({ tenant, device_id: e.data.device_id, metric, measured_at: e.data.measured_at, value: e.data.values[metric] ?? 0, seq: from + j + 1 })),
  );
const rowCount = count * metrics.length;

const t = await startTestBus();
try {
  for (const kind of await availableDatabaseKinds()) {
    const bus = await t.connect(`bench-${kind}`, { namespace: testNamespace() });
    const db = await createTestDatabase(kind);
    try {
      await pipelined(count, window, (i) => {
        const e = events[i];
        if (!e) throw new Error('missing event');
        return append(bus, telemetrySubject(tenant, e.data.device_id, 'reading'), e);
      });
      await prepareTelemetryStorage(db.database);
      const projection = createTelemetryProjection({ policy });
      // Partitions for the readings' days exist before any timing: both sides insert into the same table.
      await db.database.db.transaction((tx) => ensurePartitions(tx, [start, start + Math.ceil(count / deviceCount) * 1000]));

      // Baselines: the same rows, one transaction per batch, through the driver alone (no bus, checkpoint or status).
      const table = sql.identifier('telemetry_readings');
      const timed = async (insertBatch: (from: number) => Promise<unknown>): Promise<number> => {
        await db.database.db.execute(sql`truncate ${table}`);
        const began = performance.now();
        for (let i = 0; i < count; i += batchSize) await insertBatch(i);
        const rate = count / ((performance.now() - began) / 1000);
        await db.database.db.execute(sql`truncate ${table}`);
        return rate;
      };
      let insertRate: number;
      let copyRate: number | undefined;
      if (db.url) {
        const raw = postgres(db.url, { max: 1, onnotice: () => {} });
        insertRate = await timed((from) => {
          const rows = rowsOfBatch(from);
          return raw.begin((tx) => tx`insert into telemetry_readings ${tx(rows)}`);
        });
        copyRate = await timed((from) => {
          const text = rowsOfBatch(from)
            .map((r) => `${r.tenant}\t${r.device_id}\t${r.metric}\t${r.measured_at}\t${r.value}\t${r.seq}\n`)
            .join('');
          return raw.begin(async (tx) => {
            const stream = await tx`copy telemetry_readings (tenant, device_id, metric, measured_at, value, seq) from stdin`.writable();
            await new Promise<void>((resolve, reject) => {
              stream.on('error', reject);
              stream.on('finish', () => resolve());
              stream.end(text);
            });
          });
        });
        await raw.end();
      } else {
        insertRate = await timed((from) => {
          const rows = rowsOfBatch(from).map((r) => ({ tenant: r.tenant, deviceId: r.device_id, metric: r.metric, measuredAt: new Date(r.measured_at), value: r.value, seq: r.seq }));
          return db.database.db.transaction(async (tx) => {
            await tx.insert(telemetryReadings).values(rows);
          });
        });
      }

      const last = (await bus.jsm.streams.info(bus.names.stream(StreamName.DeviceTelemetry))).state.last_seq;
      const started = performance.now();
      const projector = await startProjector(bus, db.database, projection, { instance: 'bench', batchSize, leaseTtlMs: 2000 });
      while ((await readCheckpoint(db.database, projection.name)) < last) await new Promise((r) => setTimeout(r, 5));
      const projectRate = count / ((performance.now() - started) / 1000);
      await projector.stop();
      const stored = Number((await db.database.db.$count(telemetryReadings)).valueOf());
      if (stored !== rowCount) throw new Error(`projected ${stored} rows, expected ${rowCount}`);

      emitBenchLine({
        bench: 'telemetry.project',
        database: kind,
        unit: 'events/s',
        value: Math.round(projectRate),
        baseline: `${kind}.insert_${batchSize}_events_per_tx`,
        baseline_value: Math.round(insertRate),
        ratio: +(projectRate / insertRate).toFixed(3),
        ...(copyRate ? { copy_value: Math.round(copyRate) } : {}),
        rows_per_event: metrics.length,
        devices: deviceCount,
        events: count,
      });
    } finally {
      await db.close();
      for (const s of bus.streams) await bus.jsm.streams.delete(bus.names.stream(s.name)).catch(() => false);
    }
  }
} finally {
  await t.close();
}
