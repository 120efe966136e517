// Rebuilding a projection from its stream, and checking a live projection against a rebuild of itself.
import { randomBytes } from 'node:crypto';
import type { Bus, Delivery } from '@vigil/bus';
import { defineError } from '@vigil/bus';
import { getTableName, sql } from 'drizzle-orm';
import { rowsOf, type Database, type Tx } from './database.ts';
import { createLease } from './lease.ts';
import { readCheckpoint, resetProjection, startProjector, type Projection } from './projector.ts';

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
  readonly batchSize?: number;
  /** Called after each commit with the checkpoint reached and the stream sequence the rebuild runs to. */
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
 */
export async function rebuildProjection(bus: Bus, database: Database, projection: Projection, options: RebuildOptions): Promise<{ checkpoint: number; ms: number }> {
  const started = performance.now();
  const lease = await createLease(bus, `projection.${projection.name}`, options.instance);
  const wait = AbortSignal.timeout(options.leaseWaitMs ?? 5000);
  await lease.acquire(wait);
  if (wait.aborted) throw new ProjectionBusyError(projection.name, 'its lease was not released');
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
