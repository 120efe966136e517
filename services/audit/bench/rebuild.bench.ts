// Rebuilding audit_log from the AUDIT stream (`vigil projections rebuild audit_log`): events per second into the
// database, against two baselines measured in the same run: reading the stream raw with an ordered consumer (the
// ceiling on input), and writing the same rows raw (COPY on PostgreSQL, 500-row INSERTs per transaction on PGlite).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StreamName } from '@vigil/schemas';
import { rebuildProjection } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { ChainBuilder, entryOf } from '../src/chain.ts';
import { auditProjection, rowOf } from '../src/projection.ts';
import { readStream } from '../src/stream-reader.ts';
import { summarise } from '../src/summary.ts';

const count = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const window = 256;
const encoder = new TextEncoder();

function emit(line: Record<string, unknown>) {
  console.log(JSON.stringify(line));
}

function rate(n: number, startedMs: number): number {
  return n / ((performance.now() - startedMs) / 1000);
}

/** A field of CSV for COPY: quoted, quotes doubled; null as an unquoted empty field. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `"${text.replace(/"/g, '""')}"`;
}

const t = await startTestBus();
try {
  // The workload: summaries of logins, key retrievals and device changes, as the summariser appends them.
  const streams = ['AUTH_EVENT', 'KEY_REQUEST', 'DEVICE_REGISTRY'] as const;
  const summaries = Array.from({ length: count }, (_, i) => {
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
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < count) {
        const s = summaries[next++];
        if (s) await t.bus.js.publish(t.bus.names.subject(s.subject), encoder.encode(JSON.stringify(s.event)), { msgID: s.event.id });
      }
    }),
  );

  // Baseline: the stream read raw, in order, through an ordered consumer.
  let read = 0;
  const readStarted = performance.now();
  for await (const _m of readStream(t.bus, StreamName.Audit)) read++;
  const readRate = rate(read, readStarted);
  emit({ bench: 'audit.stream_read', unit: 'events/s', value: Math.round(readRate), baseline: 'ordered_consumer.read', baseline_value: Math.round(readRate), ratio: 1, events: read });

  // The rows the rebuild will write, computed once for the raw-write baseline.
  const chain = new ChainBuilder();
  const rows = summaries.flatMap((s, i) => {
    const entry = entryOf(i + 1, s.subject, s.event);
    const chained = entry ? chain.append(entry) : undefined;
    return chained ? [rowOf(chained)] : [];
  });

  for (const kind of await availableDatabaseKinds()) {
    const db = await createTestDatabase(kind);
    try {
      await db.database.db.execute(sql`create table bench_audit_raw (like audit_log including defaults including constraints including indexes)`);
      const rawStarted = performance.now();
      let baseline: string;
      if (kind === 'postgres' && db.url) {
        baseline = 'postgres.copy';
        const raw = postgres(db.url, { max: 1, onnotice: () => {} });
        const names = ['position', 'seq', 'event_id', 'type', 'v', 'at', 'tenant', 'actor_kind', 'actor_id', 'correlation_id', 'causation_id', 'category', 'severity', 'subject', 'details', 'prev_hash', 'hash'];
        const writable = await raw.unsafe(`copy bench_audit_raw (${names.join(', ')}) from stdin with (format csv)`).writable();
        const lines = rows.map((r) => `${[r.position, r.seq, r.eventId, r.type, r.v, r.at, r.tenant, r.actorKind, r.actorId, r.correlationId, r.causationId, r.category, r.severity, r.subject, r.details, r.prevHash, r.hash].map(csvField).join(',')}\n`);
        await pipeline(Readable.from(lines), writable);
        await raw.end();
      } else {
        baseline = `${kind}.insert_500_per_tx`;
        for (let i = 0; i < rows.length; i += 500) {
          const slice = rows.slice(i, i + 500);
          await db.database.db.transaction(async (tx) => {
            await tx.execute(sql`insert into bench_audit_raw select * from json_populate_recordset(null::bench_audit_raw, ${JSON.stringify(slice.map((r) => ({ position: r.position, seq: r.seq, event_id: r.eventId, type: r.type, v: r.v, at: r.at, tenant: r.tenant, actor_kind: r.actorKind, actor_id: r.actorId, correlation_id: r.correlationId, causation_id: r.causationId, category: r.category, severity: r.severity, subject: r.subject, details: r.details, prev_hash: r.prevHash, hash: r.hash })))}::json)`);
          });
        }
      }
      const rawRate = rate(rows.length, rawStarted);

      for (const batchSize of [500, 2000]) {
        const started = performance.now();
        await rebuildProjection(t.bus, db.database, auditProjection, { instance: 'bench', batchSize });
        const rebuildRate = rate(count, started);
        emit({
          bench: 'audit.rebuild',
          database: kind,
          batch: batchSize,
          unit: 'events/s',
          value: Math.round(rebuildRate),
          baseline,
          baseline_value: Math.round(rawRate),
          ratio: +(rebuildRate / rawRate).toFixed(3),
          stream_read_value: Math.round(readRate),
          stream_read_ratio: +(rebuildRate / readRate).toFixed(3),
          events: count,
        });
      }
    } finally {
      await db.close();
    }
  }
} finally {
  await t.close();
}
