// Rebuilding a projection from its stream, and checking a live projection against a rebuild of itself.
import { randomBytes } from 'node:crypto';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Bus, Delivery } from '@vigil/bus';
import { defineError, readMessage } from '@vigil/bus';
import { getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { quoteIdentifier, rowsOf, type BulkSession, type Database, type Tx } from './database.ts';
import { copyEncoder } from './insert-many.ts';
import { createLease } from './lease.ts';
import { readCheckpoint, resetProjection, startProjector, type BulkRebuild, type Projection } from './projector.ts';
import { projectionCheckpoints } from './schema.ts';

export const ProjectionBusyError = defineError(
  'VGL_PROJECTION_BUSY',
  'projection %s is held by a running projector (%s); stop the service that runs it first',
  409,
);

export interface RebuildOptions {
  /** This process's name in the projection's lease. */
  readonly instance: string;
  /** How long to wait for the lease before giving up (default 5 s). */
  readonly leaseWaitMs?: number;
  /** Events per transaction through the projector (default 500); per row-building step in bulk (default 256). */
  readonly batchSize?: number;
  /**
   * Progress: the stream sequence reached and the one the rebuild runs to. Through the projector, after each
   * commit; in bulk (one transaction), as rows are sent.
   */
  readonly onProgress?: (checkpoint: number, target: number) => void;
}

/** The stream sequence a projection has to reach to have applied everything stored now. */
async function targetSequence(bus: Bus, projection: Projection): Promise<number> {
  const stream = bus.names.stream(projection.stream);
  if (!projection.filterSubject) return (await bus.jsm.streams.info(stream)).state.last_seq;
  const last = await bus.jsm.streams.getMessage(stream, { last_by_subj: bus.names.subject(projection.filterSubject) }).catch(() => null);
  return last?.seq ?? 0;
}

/**
 * Empties a projection (tables and checkpoint) and replays its stream into it, returning once it has applied every
 * event stored when the rebuild began. It takes the projection's lease first, so it refuses (ProjectionBusyError)
 * while a service runs the projection: stopping that service is the operator's job.
 *
 * A projection that declares `bulkRebuild` is rebuilt in bulk (rebuildInBulk: one transaction, COPY); if that
 * fails on its data rather than on an outage (a duplicate the row builder could not see, an event it cannot
 * process), the transaction has changed nothing and the rebuild runs again through the projector, which applies
 * event by event, isolates an event that fails and reports it, exactly as the live projection did.
 */
export async function rebuildProjection(bus: Bus, database: Database, projection: Projection, options: RebuildOptions): Promise<{ checkpoint: number; ms: number }> {
  const started = performance.now();
  const lease = await createLease(bus, `projection.${projection.name}`, options.instance);
  const wait = AbortSignal.timeout(options.leaseWaitMs ?? 5000);
  await lease.acquire(wait);
  if (wait.aborted) throw new ProjectionBusyError(projection.name, 'its lease was not released');
  if (projection.bulkRebuild) {
    try {
      const checkpoint = await rebuildInBulk(bus, database, projection, projection.bulkRebuild, lease.lost, options);
      await lease.release();
      return { checkpoint, ms: performance.now() - started };
    } catch (err) {
      if (lease.lost.aborted || !(await database.ping().then(() => true, () => false))) {
        await lease.release();
        throw err;
      }
      bus.logger.warn({ err, projection: projection.name }, 'bulk rebuild failed and was rolled back; rebuilding through the projector');
    }
  }
  try {
    await resetProjection(database, projection, bus.logger);
  } finally {
    await lease.release();
  }
  const target = await targetSequence(bus, projection);
  const projector = await startProjector(bus, database, projection, {
    instance: options.instance,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.onProgress ? { onCommit: (seq: number) => options.onProgress?.(seq, target) } : {}),
  });
  try {
    while ((await readCheckpoint(database, projection.name)) < target) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await projector.stop();
  }
  return { checkpoint: await readCheckpoint(database, projection.name), ms: performance.now() - started };
}

/**
 * Messages the ordered consumer asks for at a time. A rebuild reads far slower than the server sends (raw reads
 * run at several times its speed with any window from 512 up), and every message waiting in memory survives
 * garbage collections, so the window is small.
 */
const readAhead = 512;
/** Events per row-building step in bulk: few enough that what they allocate dies young (cheap to collect). */
const bulkStep = 128;
/** Bytes of COPY text per write: large enough that per-write costs vanish, small enough to keep memory flat. */
const copyChunkBytes = 512 * 1024;

interface StoredBatch {
  /** The valid events, as the projector would apply them. */
  readonly deliveries: Delivery[];
  /** Messages that failed validation: the projector terminated them (and reported them then); rows never had them. */
  rejected: number;
  /** The last stream sequence read. */
  lastSeq: number;
}

/**
 * A projection's stream from its first message up to `target`, in order, through an ordered consumer (no acks, no
 * durable state: the checkpoint is in the database), validated as the projector validates.
 */
async function* readStored(bus: Bus, projection: Projection, target: number, batchSize: number): AsyncGenerator<StoredBatch> {
  if (target <= 0) return;
  const consumer = await bus.js.consumers.get(bus.names.stream(projection.stream), {
    deliver_policy: DeliverPolicy.All,
    ...(projection.filterSubject ? { filter_subjects: bus.names.subject(projection.filterSubject) } : {}),
  });
  // Nothing to deliver (every message deleted, or none under the filter): consume() would wait for ever.
  if ((await consumer.info()).num_pending === 0) {
    await consumer.delete().catch(() => false);
    return;
  }
  const messages = await consumer.consume({ max_messages: Math.max(readAhead, batchSize * 2) });
  let batch: StoredBatch = { deliveries: [], rejected: 0, lastSeq: 0 };
  try {
    for await (const m of messages) {
      if (m.seq > target) break;
      const read = readMessage(bus, m);
      if (read.ok) batch.deliveries.push({ event: read.event, seq: m.seq, subject: bus.names.plain(m.subject), deliveryCount: 1 });
      else batch.rejected++;
      batch.lastSeq = m.seq;
      const end = m.seq >= target || m.info.pending === 0;
      if (end) break;
      if (batch.deliveries.length >= batchSize) {
        yield batch;
        batch = { deliveries: [], rejected: 0, lastSeq: 0 };
      }
    }
  } finally {
    await messages.close();
  }
  if (batch.lastSeq > 0) yield batch;
}

/**
 * Drops a table's indexes and returns the statements that create them again: its primary key and unique
 * constraints, unless another table's foreign key references it, and every index that backs no constraint. Building
 * an index once over all the rows costs a fraction of keeping it up to date row by row; a constraint created again
 * checks every row, so a duplicate still fails the rebuild. Only for a plain table (not partitioned).
 */
async function dropIndexes(session: BulkSession, table: string): Promise<string[]> {
  const name = quoteIdentifier(table);
  const secondary = await session.query(
    `select pg_get_indexdef(i.indexrelid) as definition, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name
       from pg_index i
       join pg_class c on c.oid = i.indexrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_class t on t.oid = i.indrelid
      where i.indrelid = to_regclass($1) and t.relkind = 'r'
        and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
      order by c.relname`,
    [name],
  );
  const constraints = await session.query(
    `select k.conname as name, pg_get_constraintdef(k.oid) as definition
       from pg_constraint k
       join pg_class t on t.oid = k.conrelid
      where k.conrelid = to_regclass($1) and t.relkind = 'r' and k.contype in ('p', 'u')
        and not exists (select 1 from pg_constraint f where f.contype = 'f' and f.confrelid = k.conrelid)
      order by k.contype, k.conname`,
    [name],
  );
  const statements: string[] = [];
  for (const c of constraints) {
    const constraint = quoteIdentifier(String(c['name']));
    await session.query(`alter table ${name} drop constraint ${constraint}`);
    statements.push(`alter table ${name} add constraint ${constraint} ${String(c['definition'])}`);
  }
  for (const index of secondary) {
    await session.query(`drop index ${String(index['name'])}`);
    statements.push(String(index['definition']));
  }
  return statements;
}

/**
 * COPYs batches of rows into the table; the column list comes from the first row. Rows are encoded as they come
 * and sent as buffers of about copyChunkBytes: what waits for the socket is bytes outside the JavaScript heap, not
 * thousands of strings the garbage collector would copy again and again.
 */
async function copyRows(session: BulkSession, table: PgTable, batches: AsyncGenerator<readonly PgTable['$inferInsert'][]>): Promise<void> {
  try {
    const first = await batches.next();
    const sample = first.done ? undefined : first.value[0];
    if (first.done || !sample) return;
    const encoder = copyEncoder(table, sample);
    const chunks = async function* () {
      let pending: Buffer[] = [];
      let bytes = 0;
      for (let rows: readonly PgTable['$inferInsert'][] | undefined = first.value; rows; ) {
        const encoded = Buffer.from(encoder.encode(rows), 'utf8');
        pending.push(encoded);
        bytes += encoded.length;
        if (bytes >= copyChunkBytes) {
          yield Buffer.concat(pending, bytes);
          pending = [];
          bytes = 0;
        }
        const next = await batches.next();
        rows = next.done ? undefined : next.value;
      }
      if (bytes > 0) yield Buffer.concat(pending, bytes);
    };
    await session.copyIn(getTableName(table), encoder.columns, chunks());
  } finally {
    await batches.return(undefined);
  }
}

/**
 * A rebuild from sequence 0 as one transaction: empty the tables and the checkpoint, drop the table's indexes and
 * unique constraints, stream every row in with COPY while the next ones are read and computed, create the indexes
 * and constraints again (checking every row), write the checkpoint, commit. Exactly once as the projector is: the
 * rows and the checkpoint commit together. A crash, an error or a lost lease rolls all of it back, tables, indexes,
 * constraints and checkpoint as they were before: there is nothing to recover. Readers of the tables wait for the
 * commit (TRUNCATE's lock) rather than see them half built.
 */
async function rebuildInBulk(bus: Bus, database: Database, projection: Projection, bulk: BulkRebuild, lost: AbortSignal, options: RebuildOptions): Promise<number> {
  await projection.prepare?.(database);
  const target = await targetSequence(bus, projection);
  const batchSize = options.batchSize ?? bulkStep;
  return database.bulkTransaction(async (session) => {
    // The commit may return before its WAL is on disk. Safe for this transaction, and set for it alone: it holds
    // every row and the checkpoint, so a crash that loses the commit loses both together, the database comes back
    // as it was before the rebuild (its old rows, its old checkpoint, consistent with each other), and running the
    // rebuild again does it all again. Nothing is acked to anyone on the strength of this commit.
    await session.query(`set local synchronous_commit = off`);
    // What resetProjection does, in this same transaction (the append-only trigger allows TRUNCATE in a reset).
    await session.query(`select set_config('vigil.projection_reset', 'on', true)`);
    const tables = projection.tables.map((t) => quoteIdentifier(getTableName(t)));
    if (tables.length > 0) await session.query(`truncate ${tables.join(', ')}`);
    const checkpoints = quoteIdentifier(getTableName(projectionCheckpoints));
    await session.query(`delete from ${checkpoints} where ${quoteIdentifier(projectionCheckpoints.projection.name)} = $1`, [projection.name]);
    const indexes = await dropIndexes(session, getTableName(bulk.table));

    let lastSeq = 0;
    let rejected = 0;
    const build = bulk.start();
    const rowBatches = async function* () {
      for await (const batch of readStored(bus, projection, target, batchSize)) {
        if (lost.aborted) throw new Error(`lost the lease of projection ${projection.name} while rebuilding it`);
        const rows = build(batch.deliveries);
        lastSeq = batch.lastSeq;
        rejected += batch.rejected;
        options.onProgress?.(lastSeq, target);
        if (rows.length > 0) yield rows;
      }
    };
    await copyRows(session, bulk.table, rowBatches());

    for (const index of indexes) await session.query(index);
    if (lastSeq > 0) {
      const c = projectionCheckpoints;
      await session.query(
        `insert into ${checkpoints} (${[c.projection, c.stream, c.lastSeq].map((column) => quoteIdentifier(column.name)).join(', ')}) values ($1, $2, $3)`,
        [projection.name, bus.names.stream(projection.stream), lastSeq],
      );
    }
    // Never commit without the lease: another holder may have started from the old checkpoint.
    if (lost.aborted) throw new Error(`lost the lease of projection ${projection.name} while rebuilding it`);
    if (rejected > 0) bus.logger.warn({ projection: projection.name, rejected }, 'messages that fail validation were stepped over, as the projector did');
    return lastSeq;
  });
}

export interface TableComparison {
  readonly table: string;
  readonly live: { readonly rows: number; readonly checksum: string };
  readonly rebuilt: { readonly rows: number; readonly checksum: string };
  readonly equal: boolean;
}

export interface ProjectionComparison {
  readonly projection: string;
  /** The live checkpoint: the rebuild replays the stream up to this sequence. */
  readonly checkpoint: number;
  readonly tables: readonly TableComparison[];
  readonly equal: boolean;
}

/** Row count and an order-free checksum (md5 of the sorted md5s of each row's text) of one table. */
async function tableSummary(tx: Tx, schema: string, table: string): Promise<{ rows: number; checksum: string }> {
  const result = await tx.execute(
    sql`select count(*)::bigint as rows, md5(coalesce(string_agg(h, '' order by h), '')) as checksum from (select md5(x::text) as h from ${sql.identifier(schema)}.${sql.identifier(table)} x) hashed`,
  );
  const row = rowsOf(result)[0] ?? {};
  return { rows: Number(row['rows'] ?? 0), checksum: String(row['checksum'] ?? '') };
}

/**
 * Rebuilds a projection into a scratch schema and compares it with the live tables: row counts and a content
 * checksum per table. One REPEATABLE READ transaction holds it all, so the live tables and their checkpoint are
 * one snapshot and the rebuild replays exactly up to that checkpoint; the scratch schema is dropped at the end.
 * `replay(untilSeq)` supplies the stream's events in order, in batches, as the projector would see them.
 */
export async function compareWithRebuild(
  database: Database,
  projection: Projection,
  replay: (untilSeq: number) => AsyncIterable<readonly Delivery[]>,
): Promise<ProjectionComparison> {
  await projection.prepare?.(database);
  const scratch = `vigil_scratch_${randomBytes(6).toString('hex')}`;
  return database.db.transaction(
    async (tx) => {
      const checkpoint = await readCheckpointIn(tx, projection.name);
      const live = String(rowsOf(await tx.execute(sql`select current_schema() as s`))[0]?.['s'] ?? 'public');
      const tables = projection.tables.map((t) => getTableName(t));
      await tx.execute(sql`create schema ${sql.identifier(scratch)}`);
      for (const t of tables) await tx.execute(sql`create table ${sql.identifier(scratch)}.${sql.identifier(t)} (like ${sql.identifier(live)}.${sql.identifier(t)} including all)`);
      // The projection writes unqualified table names: inside this transaction they are the scratch tables.
      await tx.execute(sql`select set_config('search_path', ${scratch}, true)`);
      if (checkpoint > 0) for await (const batch of replay(checkpoint)) await projection.apply(tx, batch);
      await tx.execute(sql`select set_config('search_path', ${live}, true)`);
      const compared: TableComparison[] = [];
      for (const t of tables) {
        const liveSummary = await tableSummary(tx, live, t);
        const rebuilt = await tableSummary(tx, scratch, t);
        compared.push({ table: t, live: liveSummary, rebuilt, equal: liveSummary.rows === rebuilt.rows && liveSummary.checksum === rebuilt.checksum });
      }
      await tx.execute(sql`drop schema ${sql.identifier(scratch)} cascade`);
      return { projection: projection.name, checkpoint, tables: compared, equal: compared.every((c) => c.equal) };
    },
    { isolationLevel: 'repeatable read' },
  );
}

async function readCheckpointIn(tx: Tx, projection: string): Promise<number> {
  const rows = rowsOf(await tx.execute(sql`select last_seq from projection_checkpoints where projection = ${projection}`));
  return Number(rows[0]?.['last_seq'] ?? 0);
}
