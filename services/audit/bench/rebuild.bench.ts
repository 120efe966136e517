// Rebuilding audit_log from the AUDIT stream (`vigil projections rebuild audit_log`): events per second into the
// database, against baselines measured in the same run on the same events:
//   - the stream read raw with an ordered consumer (no decoding): the ceiling on input;
//   - the same rows COPYed raw, already encoded, into a copy of audit_log with all its indexes: the ceiling on output
//     as the live table is (`copy_reindexed_value`: the same COPY with the indexes and unique constraints dropped
//     first and built afterwards, which is what the rebuild does);
//   - the rebuild through the projector, batch by batch (what `rebuildProjection` did before the bulk path).
// The rebuild's value is the best of 3 in one process: from the second on, the worker thread the first started is
// ready (it is kept for the next rebuild); `first_run_value` is the first, which pays for starting it, as a
// `vigil projections rebuild` in a process of its own does.
// BENCH_EVENTS sizes it (default 100 000: with 20 000 the fixed costs, a consumer and a lease, are most of the time).
import { DeliverPolicy } from '@nats-io/jetstream';
import { StreamName, vigilEvents } from '@vigil/schemas';
import { rebuildProjection, rowsOf, type Database } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, emitBenchLine, startTestBus } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import { auditProjection, createAuditBulkRebuild } from '../src/projection.ts';
import { summarise, type Summary } from '../src/summary.ts';

const count = Number(process.env['BENCH_EVENTS'] ?? 100_000);
const window = 256;
const utf8 = new TextEncoder();

function rate(n: number, startedMs: number): number {
  return n / ((performance.now() - startedMs) / 1000);
}

/** The best of `runs` measurements of `measure` (events/s): the least disturbed by whatever else the machine runs. */
async function best(runs: number, measure: () => Promise<number>): Promise<number> {
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, await measure());
  return top;
}

/**
 * COPYs the encoded rows into `table` in one transaction; with `reindex`, as the rebuild does: its unique
 * constraints and indexes dropped first and created again after.
 */
async function rawCopy(database: Database, table: string, columns: readonly string[], chunks: readonly Buffer[], reindex: boolean): Promise<number> {
  await database.db.execute(sql`truncate ${sql.identifier(table)}`);
  const started = performance.now();
  await database.bulkTransaction(async (session) => {
    const again: string[] = [];
    if (reindex) {
      for (const c of await session.query(`select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint where conrelid = $1::regclass and contype in ('p', 'u')`, [table])) {
        await session.query(`alter table ${table} drop constraint ${String(c['name'])}`);
        again.push(`alter table ${table} add constraint ${String(c['name'])} ${String(c['definition'])}`);
      }
      for (const i of await session.query(`select indexname as name, indexdef as definition from pg_indexes where tablename = $1`, [table])) {
        await session.query(`drop index ${String(i['name'])}`);
        again.push(String(i['definition']));
      }
    }
    await session.copyIn(
      table,
      columns,
      (async function* () {
        yield* chunks;
      })(),
    );
    for (const statement of again) await session.query(statement);
  });
  return rate(count, started);
}

/** The workload: summaries of logins, key retrievals and device changes, as the summariser appends them. */
function summaryAt(i: number): Summary {
  const streams = ['AUTH_EVENT', 'KEY_REQUEST', 'DEVICE_REGISTRY'] as const;
  const stream = streams[i % 3] ?? 'AUTH_EVENT';
  const source = {
    id: `01890a5d-ac96-774b-bcce-${i.toString(16).padStart(12, '0')}`,
    type: stream === 'AUTH_EVENT' ? 'identity.session.started' : stream === 'KEY_REQUEST' ? 'kme.keys.retrieved' : 'devices.device.registered',
    v: 1,
    at: new Date(Date.UTC(2026, 10, 22) + i).toISOString(),
    tenant: `tenant${i % 8}`,
    actor: { kind: 'user' as const, id: `user-${i % 500}` },
    correlation_id: `corr-${i}`,
    data: {},
  };
  return summarise(stream, i + 1, `src.${i}`, source);
}

/**
 * The rows the rebuild writes, computed and encoded here for the raw COPY baselines (by the rebuild's own encoder, on
 * this thread). Made when they are needed and dropped after, so the rebuild is measured in a process that holds no
 * more than the CLI's would.
 */
async function encodedRows(): Promise<{ columns: readonly string[]; chunks: Buffer[] }> {
  const encoder = createAuditBulkRebuild(undefined, { workerFrom: Infinity }).start({ registry: vigilEvents, messages: count });
  const chunks: Buffer[] = [];
  let columns: readonly string[] = [];
  try {
    for (let from = 0; from < count; from += 1000) {
      const payloads = Array.from({ length: Math.min(1000, count - from) }, (_, i) => utf8.encode(JSON.stringify(summaryAt(from + i).event)));
      const ends = new Uint32Array(payloads.length);
      let bytes = 0;
      payloads.forEach((p, i) => (ends[i] = bytes += p.length));
      const packed = new Uint8Array(bytes);
      payloads.forEach((p, i) => packed.set(p, (ends[i] ?? 0) - p.length));
      const rows = await encoder.encode({
        count: payloads.length,
        seqs: Float64Array.from(payloads, (_, i) => from + i + 1),
        subjects: payloads.map((_, i) => summaryAt(from + i).subject),
        payloads: packed,
        ends,
      });
      columns = rows.columns;
      chunks.push(Buffer.from(rows.copy));
    }
  } finally {
    await encoder.close();
  }
  return { columns, chunks };
}

const t = await startTestBus();
try {
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < count) {
        const s = summaryAt(next++);
        await t.bus.js.publish(t.bus.names.subject(s.subject), utf8.encode(JSON.stringify(s.event)), { msgID: s.event.id });
      }
    }),
  );
  const stream = t.bus.names.stream(StreamName.Audit);
  const lastSeq = (await t.bus.jsm.streams.info(stream)).state.last_seq;

  // Baseline: the stream read raw, in order, through an ordered consumer asking for 4096 messages at a time (the
  // best of the 256 to 20 000 tried; the rebuild asks for fewer, see packages/store/src/projection-rebuild.ts).
  const readRate = await best(3, async () => {
    const consumer = await t.bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 4096 });
    const started = performance.now();
    let read = 0;
    for await (const m of messages) {
      read++;
      if (m.seq >= lastSeq) break;
    }
    await messages.close();
    return rate(read, started);
  });
  emitBenchLine({ bench: 'audit.stream_read', unit: 'events/s', value: Math.round(readRate), baseline: 'ordered_consumer.read', baseline_value: Math.round(readRate), ratio: 1, events: count });

  for (const kind of await availableDatabaseKinds()) {
    const db = await createTestDatabase(kind);
    try {
      let nodeCpu = Infinity;
      // The first rebuild of the process, apart: the one a `vigil projections rebuild` makes.
      let firstRate = 0;
      const rebuildRate = await best(3, async () => {
        const cpu = process.cpuUsage();
        const started = performance.now();
        const result = await rebuildProjection(t.bus, db.database, auditProjection, { instance: 'bench' });
        if (result.checkpoint !== lastSeq) throw new Error(`rebuilt to ${result.checkpoint}, not ${lastSeq}`);
        const r = rate(count, started);
        const used = process.cpuUsage(cpu);
        nodeCpu = Math.min(nodeCpu, (used.user + used.system) / count);
        firstRate ||= r;
        return r;
      });
      const stored = rowsOf(await db.database.db.execute(sql`select count(*)::int as n from audit_log`))[0]?.['n'];
      if (stored !== count) throw new Error(`audit_log has ${String(stored)} rows, not ${count}`);

      // The rebuild as it was before the bulk path: through the projector, 500 events per transaction.
      const { bulkRebuild: _bulk, ...throughProjector } = auditProjection;
      const started = performance.now();
      await rebuildProjection(t.bus, db.database, throughProjector, { instance: 'bench' });
      const projectorRate = rate(count, started);

      await db.database.db.execute(sql`create table bench_audit_raw (like audit_log including all)`);
      const { columns, chunks } = await encodedRows();
      const copyRate = await best(2, () => rawCopy(db.database, 'bench_audit_raw', columns, chunks, false));
      const reindexedRate = await best(2, () => rawCopy(db.database, 'bench_audit_raw', columns, chunks, true));
      await db.database.db.execute(sql`drop table bench_audit_raw`);

      emitBenchLine({
        bench: 'audit.rebuild',
        database: kind,
        unit: 'events/s',
        value: Math.round(rebuildRate),
        baseline: `${kind}.copy`,
        baseline_value: Math.round(copyRate),
        ratio: +(rebuildRate / copyRate).toFixed(3),
        first_run_value: Math.round(firstRate),
        copy_reindexed_value: Math.round(reindexedRate),
        stream_read_value: Math.round(readRate),
        stream_read_ratio: +(rebuildRate / readRate).toFixed(3),
        through_projector_value: Math.round(projectorRate),
        node_cpu_us_per_event: +nodeCpu.toFixed(1),
        events: count,
      });
    } finally {
      await db.close();
    }
  }
} finally {
  await t.close();
}
