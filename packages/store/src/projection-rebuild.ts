// Rebuilding a projection from its stream, and checking a live projection against a rebuild of itself.
import { randomBytes } from 'node:crypto';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Bus, Delivery } from '@vigil/bus';
import { defineError } from '@vigil/bus';
import { getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { quoteIdentifier, rowsOf, type BulkSession, type Database, type Tx } from './database.ts';
import { copyEncoder, type CopyEncoder } from './insert-many.ts';
import { createLease } from './lease.ts';
import {
  projectorNames,
  readCheckpoint,
  resetProjection,
  startProjector,
  type BulkRebuild,
  type EncodedRows,
  type Projection,
  type StoredMessages,
} from './projector.ts';
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
  /** Events per transaction through the projector (default 500); messages per batch to the bulk encoder (default 1024). */
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
  const lease = await createLease(bus, projectorNames(database.schema, projection.name).lease, options.instance);
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
 * Messages the ordered consumer asks for at a time, at least. A rebuild reads far slower than the server sends (raw
 * reads run at several times its speed with any window from 512 up), and every message waiting in memory survives
 * garbage collections, so the window is small: two batches.
 */
const readAhead = 1024;
/**
 * Messages per batch handed to the encoder: enough that handing one to a worker thread costs little per message
 * (512 to 2048 measure alike).
 */
const bulkStep = 1024;
/**
 * Batches the encoder may hold at once: while it encodes the next ones (on a worker thread), this thread reads the
 * stream and sends the rows before them.
 */
const encodeAhead = 4;

/** Packs stored messages into StoredMessages, one batch at a time. */
class MessagePacker {
  #count = 0;
  #bytes = 0;
  #seqs: Float64Array<ArrayBuffer>;
  #ends: Uint32Array<ArrayBuffer>;
  #subjects: string[] = [];
  #payloads: Uint8Array<ArrayBuffer>;

  constructor(readonly capacity: number) {
    this.#seqs = new Float64Array(capacity);
    this.#ends = new Uint32Array(capacity);
    this.#payloads = new Uint8Array(capacity * 512);
  }

  get count(): number {
    return this.#count;
  }

  add(seq: number, subject: string, payload: Uint8Array): void {
    const end = this.#bytes + payload.length;
    if (end > this.#payloads.length) {
      const grown = new Uint8Array(Math.max(end, this.#payloads.length * 2));
      grown.set(this.#payloads.subarray(0, this.#bytes));
      this.#payloads = grown;
    }
    this.#payloads.set(payload, this.#bytes);
    this.#bytes = end;
    this.#seqs[this.#count] = seq;
    this.#ends[this.#count] = end;
    this.#subjects.push(subject);
    this.#count++;
  }

  /** The batch packed so far; the next starts empty, in buffers of its own (this one's may go to another thread). */
  take(): StoredMessages {
    const batch: StoredMessages = { count: this.#count, seqs: this.#seqs, subjects: this.#subjects, payloads: this.#payloads, ends: this.#ends };
    const bytes = this.#bytes;
    this.#count = 0;
    this.#bytes = 0;
    this.#seqs = new Float64Array(this.capacity);
    this.#ends = new Uint32Array(this.capacity);
    this.#subjects = [];
    // The next batch is likely the size of this one.
    this.#payloads = new Uint8Array(Math.max(bytes + (bytes >> 3), 64 * 1024));
    return batch;
  }
}

/**
 * A projection's stream from its first message up to `target`, in order, through an ordered consumer (no acks, no
 * durable state: the checkpoint is in the database), packed in batches as stored: reading is all this thread does
 * with a message, the encoder parses and validates it.
 */
async function* readStored(bus: Bus, projection: Projection, target: number, batchSize: number): AsyncGenerator<StoredMessages> {
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
  const packer = new MessagePacker(batchSize);
  try {
    for await (const m of messages) {
      const info = m.info;
      if (info.streamSequence > target) break;
      packer.add(info.streamSequence, bus.names.plain(m.subject), m.data);
      if (info.streamSequence >= target || info.pending === 0) break;
      if (packer.count >= batchSize) yield packer.take();
    }
  } finally {
    await messages.close();
  }
  if (packer.count > 0) yield packer.take();
}

/**
 * A BulkRebuild from a row builder, for a projection whose rows are cheap to compute: fed every valid event once,
 * in stream order, in batches (it may keep state between them), on this thread; its rows written with copyEncoder,
 * the columns those of the first row, which every row must share.
 */
export function rowBulkRebuild<T extends PgTable>(table: T, start: () => (events: readonly Delivery[]) => readonly T['$inferInsert'][]): BulkRebuild<T> {
  return {
    table,
    start({ registry }) {
      const build = start();
      let encoder: CopyEncoder<T> | undefined;
      return {
        async encode(batch) {
          const deliveries: Delivery[] = [];
          let rejected = 0;
          for (let i = 0, from = 0; i < batch.count; i++) {
            const to = batch.ends[i] ?? from;
            const read = registry.read(batch.payloads.subarray(from, to));
            from = to;
            if (read.ok) deliveries.push({ event: read.event, seq: batch.seqs[i] ?? 0, subject: batch.subjects[i] ?? '', deliveryCount: 1 });
            else rejected++;
          }
          const rows = build(deliveries);
          const first = rows[0];
          if (!first) return { columns: [], copy: new Uint8Array(0), rejected };
          encoder ??= copyEncoder(table, first);
          return { columns: encoder.columns, copy: Buffer.from(encoder.encode(rows), 'utf8'), rejected };
        },
        close: async () => {},
      };
    },
  };
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
 * COPYs the rows of every batch into the table, starting with the first batch that has some (its columns are the
 * COPY's). Each batch's text goes as one write: bytes outside the JavaScript heap, not strings the garbage collector
 * would copy again and again.
 */
async function copyRows(session: BulkSession, table: PgTable, batches: AsyncGenerator<EncodedRows>): Promise<void> {
  try {
    let first = await batches.next();
    while (!first.done && first.value.copy.length === 0) first = await batches.next();
    if (first.done) return;
    const { columns, copy } = first.value;
    const chunks = async function* () {
      yield copy;
      for await (const rows of batches) if (rows.copy.length > 0) yield rows.copy;
    };
    await session.copyIn(getTableName(table), columns, chunks());
  } finally {
    await batches.return(undefined);
  }
}

/**
 * A rebuild from sequence 0 as one transaction: empty the tables and the checkpoint, drop the table's indexes and
 * unique constraints, stream every row in with COPY while the next ones are read and encoded, create the indexes
 * and constraints again (checking every row), write the checkpoint, commit. Exactly once as the projector is: the
 * rows and the checkpoint commit together. A crash, an error or a lost lease rolls all of it back, tables, indexes,
 * constraints and checkpoint as they were before: there is nothing to recover. Readers of the tables wait for the
 * commit (TRUNCATE's lock) rather than see them half built.
 */
async function rebuildInBulk(bus: Bus, database: Database, projection: Projection, bulk: BulkRebuild, lost: AbortSignal, options: RebuildOptions): Promise<number> {
  await projection.prepare?.(database);
  const target = await targetSequence(bus, projection);
  const batchSize = options.batchSize ?? bulkStep;
  // Started first, so what it starts (a worker thread) gets ready while the transaction empties the tables.
  const encoder = bulk.start({ registry: bus.registry, messages: target });
  try {
    return await database.bulkTransaction(async (session) => {
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
      const encoded = async function* () {
        const inProgress: { rows: Promise<EncodedRows>; lastSeq: number }[] = [];
        const oldest = async () => {
          const batch = inProgress.shift();
          if (!batch) throw new Error('no batch in progress');
          const rows = await batch.rows;
          lastSeq = batch.lastSeq;
          rejected += rows.rejected;
          options.onProgress?.(lastSeq, target);
          return rows;
        };
        for await (const batch of readStored(bus, projection, target, batchSize)) {
          if (lost.aborted) throw new Error(`lost the lease of projection ${projection.name} while rebuilding it`);
          // Read before the batch goes to the encoder: its buffers may go to another thread with it.
          const batchLastSeq = batch.seqs[batch.count - 1] ?? lastSeq;
          const rows = encoder.encode(batch);
          // Awaited in order below; a failure of a later batch while an earlier one is awaited is not unhandled.
          rows.catch(() => {});
          inProgress.push({ rows, lastSeq: batchLastSeq });
          if (inProgress.length >= encodeAhead) yield await oldest();
        }
        while (inProgress.length > 0) yield await oldest();
      };
      await copyRows(session, bulk.table, encoded());

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
  } finally {
    await encoder.close();
  }
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
