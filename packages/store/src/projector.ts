import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JsMsg } from '@nats-io/jetstream';
import { readMessage, rejectMessage, type Bus, type Delivery, type RejectionReason } from '@vigil/bus';
import type { Logger } from '@vigil/log';
import type { EventRegistry, StreamName } from '@vigil/schemas';
import { eq, getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { defaultReadModelSchema, type Database, type Tx } from './database.ts';
import { createLease, type Lease } from './lease.ts';
import { projectionCheckpoints } from './schema.ts';


/** A read model built from one stream (or one subject filter of it). */
export interface Projection {
  readonly name: string;
  readonly stream: StreamName;
  /** One plain subject filter; default the whole stream. */
  readonly filterSubject?: string;
  /** The tables this projection owns, emptied before a rebuild. */
  readonly tables: readonly PgTable[];
  /** Writes the rows for a batch of events, inside the transaction that also moves the checkpoint. */
  apply(tx: Tx, events: readonly Delivery[]): Promise<void>;
  /**
   * Creates what migrations cannot express (a partitioned or hypertable table), idempotently; run before the
   * projector starts and before a reset or a comparison, so its tables exist whatever started first.
   */
  prepare?(database: Database): Promise<void>;
  /**
   * Declares that, from empty tables, the projection only appends rows to one table, each a pure function of the
   * events before it: rebuildProjection then streams them in with COPY, in one transaction, rather than applying
   * batches (see projection-rebuild.ts).
   */
  readonly bulkRebuild?: BulkRebuild;
}

/**
 * Messages of a stream as stored, a batch of them in stream order, for a bulk rebuild: the payloads back to back in
 * one buffer, so a batch is a few objects rather than one per message, and can be handed to a worker thread whole
 * (its buffers transferred, not copied).
 */
export interface StoredMessages {
  readonly count: number;
  /** The stream sequence of each message. */
  readonly seqs: Float64Array<ArrayBuffer>;
  /** The subject of each, without the namespace. */
  readonly subjects: readonly string[];
  /** Every payload (JSON in UTF-8, unchecked), back to back: message i's ends at ends[i], and starts where i - 1's ends. */
  readonly payloads: Uint8Array<ArrayBuffer>;
  readonly ends: Uint32Array<ArrayBuffer>;
}

/** The rows of one batch as COPY text (Database.bulkTransaction's copyIn). */
export interface EncodedRows {
  /** The columns each line gives, in order. */
  readonly columns: readonly string[];
  /** Whole lines, one per row (empty when the batch made none). */
  readonly copy: Uint8Array;
  /** Messages of the batch that failed validation: the projector terminated them, and rows never had them. */
  readonly rejected: number;
}

/** Turns one rebuild's stored messages into COPY text, batch after batch. */
export interface BulkEncoder {
  /**
   * The rows of a batch. Called for every batch in stream order, each without waiting for the one before to be
   * answered (several may be in progress); the answers are taken in the same order.
   */
  encode(batch: StoredMessages): Promise<EncodedRows>;
  /** Frees what the encoder holds (a worker thread); called once, whether the rebuild completed or not. */
  close(): Promise<void>;
}

/** How a projection's rows are computed when it is rebuilt from sequence 0 (Projection.bulkRebuild). */
export interface BulkRebuild<T extends PgTable = PgTable> {
  /** The one table the rows go to (its other tables, if any, stay empty). */
  readonly table: T;
  /**
   * An encoder for one rebuild from empty tables, fed every stored message once, in stream order. It validates each
   * message as the projector does, with `registry.read` (one that fails makes no row and is counted as rejected),
   * and may keep state from one batch to the next (a hash chain's head). `messages`: about how many the rebuild will
   * read (the stream's last sequence), for an encoder whose way of working depends on the size.
   */
  start(context: { readonly registry: EventRegistry; readonly messages: number }): BulkEncoder;
}

export interface ProjectorOptions {
  readonly instance: string;
  /** Events per transaction at most (default 500). */
  readonly batchSize?: number;
  /** Attempts at one event before it is terminated, reported and stepped over (default 5). */
  readonly maxAttempts?: number;
  /** How long a crashed holder keeps the projection before a standby takes over (default 15 s). */
  readonly leaseTtlMs?: number;
  /** Called after each commit, before the acks go out (metrics; tests use it to crash at the worst moment). */
  readonly onCommit?: (lastSeq: number, count: number) => void;
}

export interface RunningProjector {
  readonly name: string;
  /** Stops reading, finishes the batch in progress, acks, releases the lease. */
  stop(): Promise<void>;
  /** Checkpoint and messages left to apply (null while another replica holds the lease). */
  lag(): Promise<{ checkpoint: number; pending: number | null; active: boolean }>;
}

/**
 * The bus names of a projection's runtime in one read-model schema: its lease and its durable consumer. In `public`
 * they are what they always were (`projection.<name>`, `projection_<name>`); in another schema they carry it
 * (`projection.<schema>-<name>`, `projection_<schema>-<name>`), so two releases on two schemas project side by side
 * without taking each other's lease or consumer. The `-` cannot occur in a schema name (a plain SQL identifier)
 * nor in a projection's (refused here), so a name belongs to one schema only: `projection_kme_supply` is public's
 * kme_supply and never schema kme's supply.
 */
export function projectorNames(schema: string, projection: string): { readonly lease: string; readonly consumer: string } {
  if (projection.includes('-')) throw new Error(`projection name ${JSON.stringify(projection)} has a -, which separates the schema in consumer names`);
  const qualified = schema === defaultReadModelSchema ? projection : `${schema}-${projection}`;
  return { lease: `projection.${qualified}`, consumer: `projection_${qualified}` };
}

/** The projection whose durable consumer in `schema` this is (projectorNames), or undefined. */
export function projectionOfConsumer(schema: string, consumer: string): string | undefined {
  const prefix = projectorNames(schema, '').consumer;
  if (!consumer.startsWith(prefix)) return undefined;
  const projection = consumer.slice(prefix.length);
  return projection.length > 0 && !projection.includes('-') ? projection : undefined;
}

export async function readCheckpoint(database: Database, projection: string): Promise<number> {
  const rows = await database.db.select({ lastSeq: projectionCheckpoints.lastSeq }).from(projectionCheckpoints).where(eq(projectionCheckpoints.projection, projection));
  return rows[0]?.lastSeq ?? 0;
}

/** Waits until a projection has applied `seq` (read-your-writes for a query carrying `min_seq`). */
export async function waitForCheckpoint(database: Database, projection: string, seq: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await readCheckpoint(database, projection)) >= seq) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Entry = { m: JsMsg; delivery: Delivery } | { m: JsMsg; rejected: { reason: RejectionReason; problems: string[] } };

/**
 * Runs a projection: one active reader (a lease), a durable consumer positioned at the checkpoint, batches applied
 * in one transaction together with the checkpoint, acks after commit. Anything at or below the checkpoint is
 * skipped, so a crash between commit and ack, a redelivery or a replay applies nothing twice.
 *
 * On start and after any failure the consumer is re-created at checkpoint + 1, so events always arrive in stream
 * order: redeliveries after a nak could otherwise overtake the checkpoint and be skipped for good.
 */
export async function startProjector(bus: Bus, database: Database, projection: Projection, options: ProjectorOptions): Promise<RunningProjector> {
  const logger = bus.logger.child({ projection: projection.name });
  const stream = bus.names.stream(projection.stream);
  const names = projectorNames(database.schema, projection.name);
  const durable = bus.names.consumer(names.consumer);
  const batchSize = options.batchSize ?? 500;
  const maxAttempts = options.maxAttempts ?? 5;
  await projection.prepare?.(database);
  const lease = await createLease(bus, names.lease, options.instance, options.leaseTtlMs);
  const stopping = new AbortController();
  let active = false;
  let closeMessages: (() => Promise<void>) | undefined;

  const run = async () => {
    // The lease is kept across a restart after an error and acquired again only once lost: acquiring a lease this
    // process holds would wait for ever for its own entry, which its renewals keep alive.
    let held = false;
    while (!stopping.signal.aborted) {
      if (!held) {
        await lease.acquire(stopping.signal);
        if (stopping.signal.aborted) break;
        held = true;
      }
      active = true;
      try {
        await readUntilFailure(lease);
      } catch (err) {
        if (!stopping.signal.aborted) logger.error({ err }, 'projection stopped on an error; restarting from its checkpoint');
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        active = false;
      }
      if (lease.lost.aborted) {
        logger.warn('projection lease lost; standing by');
        held = false;
      }
    }
    await lease.release();
  };

  const readUntilFailure = async (held: Lease) => {
    const checkpoint = await readCheckpoint(database, projection.name);
    await positionConsumer(bus, stream, durable, checkpoint, projection.filterSubject);
    const consumer = await bus.js.consumers.get(stream, durable);
    const messages = await consumer.consume({ max_messages: batchSize * 2 });
    closeMessages = async () => {
      await messages.close();
    };
    // A stop or a lost lease closes the iterator even while no message comes: the loop below only looks between
    // messages, and a stop that landed while the consumer was being positioned found nothing to close yet.
    const onLost = () => void messages.close();
    held.lost.addEventListener('abort', onLost, { once: true });
    stopping.signal.addEventListener('abort', onLost, { once: true });
    if (stopping.signal.aborted || held.lost.aborted) onLost();
    // Group commit: messages gather in `buffer` while the transaction before commits, and the next transaction takes
    // all of them (up to batchSize). Batches then grow with the load by themselves: a consumer that keeps up sees the
    // server's pending count at 0 on every message, and closing a batch on that committed them one by one.
    const buffer: Entry[] = [];
    let committing: Promise<void> | undefined;
    let failure: { err: unknown } | undefined;
    const drain = async () => {
      while (buffer.length > 0 && !held.lost.aborted) await commitBatch(buffer.splice(0, batchSize));
    };
    const startDraining = () => {
      // Started in the next turn of the event loop, once whatever the last read from the socket held is buffered.
      committing = new Promise<void>((resolve) => setImmediate(resolve))
        .then(drain)
        .catch((err: unknown) => {
          failure = { err };
          void messages.close();
        })
        .finally(() => {
          committing = undefined;
          if (buffer.length > 0 && !failure && !held.lost.aborted) startDraining();
        });
    };
    try {
      for await (const m of messages) {
        if (stopping.signal.aborted || held.lost.aborted || failure) break;
        const read = readMessage(bus, m);
        buffer.push(
          read.ok
            ? { m, delivery: { event: read.event, seq: m.seq, subject: bus.names.plain(m.subject), deliveryCount: m.info.deliveryCount } }
            : { m, rejected: { reason: read.reason, problems: read.problems } },
        );
        if (!committing) startDraining();
        // Reading no further while a full batch waits is what holds the consumer back: it pulls more as it is read.
        else if (buffer.length >= batchSize) await committing;
      }
    } finally {
      // However reading ended (an error of the consumer too), what was read is committed before a restart positions
      // the consumer again.
      while (committing) await committing;
      held.lost.removeEventListener('abort', onLost);
      stopping.signal.removeEventListener('abort', onLost);
      closeMessages = undefined;
      await messages.close().catch(() => {});
    }
    if (failure) throw failure.err;
  };

  /** Applies a batch; when it fails, applies its events one by one so a single bad event cannot stall the rest. */
  const commitBatch = async (batch: Entry[]) => {
    try {
      await applyInTransaction(batch);
    } catch (err) {
      if (batch.length === 1) return applyAlone(batch[0], err);
      logger.warn({ err, size: batch.length }, 'batch failed; applying its events one by one');
      for (const entry of batch) await applyAlone(entry, undefined);
      return;
    }
    settle(batch);
  };

  const applyAlone = async (entry: Entry | undefined, firstError: unknown) => {
    if (!entry) return;
    let lastError = firstError;
    for (let attempt = firstError === undefined ? 1 : 2; attempt <= maxAttempts; attempt++) {
      try {
        await applyInTransaction([entry]);
        settle([entry]);
        return;
      } catch (err) {
        lastError = err;
        // A database that does not answer is an outage, not a bad event: wait for it without counting.
        if (!(await database.ping().then(() => true, () => false))) {
          attempt--;
          logger.warn({ err }, 'database unavailable; waiting');
        }
        if (stopping.signal.aborted) throw err;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
      }
    }
    const problems = [lastError instanceof Error ? lastError.message : String(lastError)];
    await applyInTransaction([{ m: entry.m, rejected: { reason: 'max_deliveries', problems } }]);
    settle([{ m: entry.m, rejected: { reason: 'max_deliveries', problems } }]);
  };

  const applyInTransaction = async (batch: readonly Entry[]) => {
    const last = batch[batch.length - 1];
    if (!last) return;
    await database.db.transaction(async (tx) => {
      const current = await tx
        .select({ lastSeq: projectionCheckpoints.lastSeq })
        .from(projectionCheckpoints)
        .where(eq(projectionCheckpoints.projection, projection.name))
        .for('update');
      const applied = current[0]?.lastSeq ?? 0;
      const fresh: Delivery[] = [];
      for (const e of batch) if ('delivery' in e && e.delivery.seq > applied) fresh.push(e.delivery);
      if (fresh.length > 0) await projection.apply(tx, fresh);
      if (last.m.seq > applied) {
        await tx
          .insert(projectionCheckpoints)
          .values({ projection: projection.name, stream, lastSeq: last.m.seq })
          .onConflictDoUpdate({ target: projectionCheckpoints.projection, set: { lastSeq: last.m.seq, updatedAt: sql`now()` } });
      }
    });
    options.onCommit?.(last.m.seq, batch.length);
  };

  /**
   * After commit: terminate and report what never can be applied, and ack the rest with one ack, of the batch's last
   * applied message. The consumer acks all up to a sequence (AckAll): one ack per message was a message to the server,
   * and an update of the consumer's state there, per event.
   */
  const settle = (batch: readonly Entry[]) => {
    let lastApplied: JsMsg | undefined;
    for (const e of batch) {
      if ('rejected' in e) void rejectMessage(bus, durable, e.m, e.rejected.reason, e.rejected.problems);
      else lastApplied = e.m;
    }
    lastApplied?.ack();
  };

  const running = run();
  return {
    name: projection.name,
    async stop() {
      stopping.abort();
      await closeMessages?.();
      await running;
    },
    async lag() {
      const checkpoint = await readCheckpoint(database, projection.name);
      if (!active) return { checkpoint, pending: null, active };
      const info = await bus.jsm.consumers.info(stream, durable).catch(() => undefined);
      return { checkpoint, pending: info ? info.num_pending + info.num_ack_pending : null, active };
    },
  };
}

/** (Re)creates the projection's durable consumer so its next delivery is the first event after the checkpoint. */
async function positionConsumer(bus: Bus, stream: string, durable: string, checkpoint: number, filterSubject: string | undefined): Promise<void> {
  try {
    await bus.jsm.consumers.delete(stream, durable);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
  }
  await bus.jsm.consumers.add(stream, {
    durable_name: durable,
    // Batches are applied in stream order and acked after commit: an ack covers every message before it.
    ack_policy: AckPolicy.All,
    ack_wait: nanos(60_000),
    max_ack_pending: 20_000,
    ...(checkpoint > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: checkpoint + 1 } : { deliver_policy: DeliverPolicy.All }),
    ...(filterSubject ? { filter_subject: bus.names.subject(filterSubject) } : {}),
  });
}

/**
 * Empties a projection's tables and checkpoint in one transaction; its projector, started again, rebuilds it from
 * sequence 0. The projector must be stopped first.
 *
 * Tables are emptied with one TRUNCATE under the transaction-local setting `vigil.projection_reset = on`: an
 * append-only table (audit_log) refuses UPDATE and DELETE always, and TRUNCATE unless that setting is on, so the
 * only way to empty it is a reset whose rebuild from the stream gives the same rows back.
 */
export async function resetProjection(database: Database, projection: Projection, logger: Logger): Promise<void> {
  await projection.prepare?.(database);
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('vigil.projection_reset', 'on', true)`);
    const tables = projection.tables.map((table) => sql.identifier(getTableName(table)));
    if (tables.length > 0) await tx.execute(sql`truncate ${sql.join(tables, sql`, `)}`);
    await tx.delete(projectionCheckpoints).where(eq(projectionCheckpoints.projection, projection.name));
  });
  logger.info({ projection: projection.name }, 'projection reset; it will rebuild from sequence 0');
}
