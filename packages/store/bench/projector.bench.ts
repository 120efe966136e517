// Events appended and projected per second through Vigil's bus and projector runtime, each against its baseline
// measured in the same run: raw JetStream publish, and raw multi-row INSERT through postgres.js.
import { append, createEvent, type Delivery } from '@vigil/bus';
import { availableDatabaseKinds, createTestDatabase, emitBenchLine, pipelined, postgresServerUrl, startTestBus } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { insertMany, readCheckpoint, startProjector, type Projection } from '../src/index.ts';
import { CounterIncremented, testRegistry } from '../../bus/test/test-events.ts';

const count = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const window = 256;
const actor = { kind: 'system', id: 'bench' } as const;

const benchRows = pgTable('bench_rows', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  subject: text('subject').notNull(),
  by: integer('by').notNull(),
});

const emit = emitBenchLine;

const t = await startTestBus({ registry: testRegistry });
try {
  const events = Array.from({ length: count }, (_, i) => createEvent(CounterIncremented, { by: (i % 100) + 1 }, { actor }));
  const payloads = events.map((e) => new TextEncoder().encode(JSON.stringify(e)));

  const rawPublish = await pipelined(count, window, (i) => t.bus.js.publish(t.bus.names.subject(`auth.rawbench.s${i % 64}`), payloads[i] ?? new Uint8Array()));
  const appendRate = await pipelined(count, window, (i) => {
    const event = events[i];
    if (!event) throw new Error('missing event');
    return append(t.bus, `auth.bench.s${i % 64}`, event);
  });
  emit({ bench: 'bus.append', unit: 'events/s', value: Math.round(appendRate), baseline: 'jetstream.publish', baseline_value: Math.round(rawPublish), ratio: +(appendRate / rawPublish).toFixed(3), events: count, server: t.bus.serverVersion });

  const server = await postgresServerUrl();
  for (const kind of await availableDatabaseKinds()) {
    const db = await createTestDatabase(kind);
    try {
      await db.database.db.execute(sql`create table bench_rows (seq bigint primary key, subject text not null, by integer not null)`);
      await db.database.db.execute(sql`create table bench_raw (seq bigint primary key, subject text not null, by integer not null)`);
      // Baseline: the same rows, 500 per multi-row INSERT and transaction, straight through the driver.

      const started = performance.now();
      if (kind === 'postgres' && db.url && server) {
        const raw = postgres(db.url, { max: 1, onnotice: () => {} });
        for (let i = 0; i < count; i += 500) {
          const rows = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({ seq: i + j + 1, subject: `auth.bench.s${(i + j) % 64}`, by: ((i + j) % 100) + 1 }));
          await raw.begin((tx) => tx`insert into bench_raw ${tx(rows)}`);
        }
        await raw.end();
      } else {
        for (let i = 0; i < count; i += 500) {
          const rows = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({ seq: i + j + 1, subject: `auth.bench.s${(i + j) % 64}`, by: ((i + j) % 100) + 1 }));
          await db.database.db.transaction(async (tx) => {
            await tx.insert(benchRows).values(rows);
          });
        }
      }
      const rawRate = count / ((performance.now() - started) / 1000);

      const projection: Projection = {
        name: `bench_${kind}`,
        stream: 'AUTH_EVENT',
        filterSubject: 'auth.bench.>',
        tables: [benchRows],
        async apply(tx, batch: readonly Delivery[]) {
          await insertMany(
            tx,
            benchRows,
            batch.map((d) => ({ seq: d.seq, subject: d.subject, by: typeof d.event.data === 'object' && d.event.data !== null && 'by' in d.event.data && typeof d.event.data.by === 'number' ? d.event.data.by : 0 })),
          );
        },
      };
      await db.database.db.execute(sql`truncate bench_rows`);
      const info = await t.bus.jsm.streams.info(t.bus.names.stream('AUTH_EVENT'));
      const last = info.state.last_seq;
      const projectStarted = performance.now();
      const projector = await startProjector(t.bus, db.database, projection, { instance: 'bench', batchSize: 500, leaseTtlMs: 2000 });
      while ((await readCheckpoint(db.database, projection.name)) < last) await new Promise((r) => setTimeout(r, 5));
      const projectRate = count / ((performance.now() - projectStarted) / 1000);
      await projector.stop();
      emit({ bench: 'store.project', database: kind, unit: 'events/s', value: Math.round(projectRate), baseline: `${kind}.insert_500_per_tx`, baseline_value: Math.round(rawRate), ratio: +(projectRate / rawRate).toFixed(3), events: count });
    } finally {
      await db.close();
    }
  }
} finally {
  await t.close();
}
