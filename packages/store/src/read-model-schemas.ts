// The read-model schemas of one database: one per release whose read models differ (VIGIL_READ_MODEL_SCHEMA), each
// migrated and projected on its own. Listing them, and dropping one once its release will not come back.
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { defineError, streamDeclarations, type Bus } from '@vigil/bus';
import { getTableName, sql } from 'drizzle-orm';
import { defaultReadModelSchema, migrationsTableOf, rowsOf, type Database } from './database.ts';
import { createLease, type Lease } from './lease.ts';
import { ProjectionBusyError } from './projection-rebuild.ts';
import { projectionOfConsumer, projectorNames } from './projector.ts';
import { projectionCheckpoints } from './schema.ts';

export const ReadModelSchemaRefusedError = defineError('VGL_READ_MODEL_SCHEMA_REFUSED', 'schema %s cannot be dropped: %s', 409);

export interface ReadModelSchema {
  readonly schema: string;
  /** The schema this process reads and projects into. */
  readonly current: boolean;
  readonly projections: readonly { readonly name: string; readonly stream: string; readonly checkpoint: number; readonly updatedAt: string }[];
}

/** What makes a schema a read-model schema: its migrations made this table, which the projectors write. */
const checkpointTable = getTableName(projectionCheckpoints);

/** Every schema of the database that holds read models, with each projection's checkpoint there. */
export async function listReadModelSchemas(database: Database): Promise<ReadModelSchema[]> {
  const schemas = rowsOf(
    await database.db.execute(
      sql`select n.nspname::text as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname = ${checkpointTable} and c.relkind = 'r' order by 1`,
    ),
  ).map((r) => String(r['schema']));
  const out: ReadModelSchema[] = [];
  for (const schema of schemas) {
    const rows = rowsOf(
      await database.db.execute(
        sql`select projection, stream, last_seq, updated_at::text as updated_at from ${sql.identifier(schema)}.${sql.identifier(checkpointTable)} order by projection`,
      ),
    );
    out.push({
      schema,
      current: schema === database.schema,
      projections: rows.map((r) => ({ name: String(r['projection']), stream: String(r['stream']), checkpoint: Number(r['last_seq']), updatedAt: String(r['updated_at']) })),
    });
  }
  return out;
}

export interface DropOptions {
  /** This process's name in the leases it holds while dropping. */
  readonly instance: string;
  /** Allows dropping `public`, the schema of every deployment that never set VIGIL_READ_MODEL_SCHEMA. */
  readonly force?: boolean;
  /** How long to wait for each projection's lease before refusing (default 5 s). */
  readonly leaseWaitMs?: number;
}

export interface DroppedSchema {
  readonly schema: string;
  /** The projections that ran in it (its checkpoints, and its durable consumers). */
  readonly projections: readonly string[];
  /** The durable consumers deleted, as `STREAM/consumer`. */
  readonly consumers: readonly string[];
}

/** The projectors' durable consumers of one schema, on every stream of this namespace. */
async function consumersOf(bus: Bus, schema: string): Promise<{ stream: string; consumer: string; projection: string }[]> {
  const found: { stream: string; consumer: string; projection: string }[] = [];
  for (const declaration of streamDeclarations) {
    const stream = bus.names.stream(declaration.name);
    try {
      for await (const info of bus.jsm.consumers.list(stream)) {
        const projection = projectionOfConsumer(schema, info.name);
        if (projection) found.push({ stream, consumer: info.name, projection });
      }
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
  }
  return found;
}

/**
 * Drops a read-model schema that no release uses any more, with everything its projectors kept on the bus: their
 * durable consumers (which would otherwise keep tracking every new message for nobody). It refuses the schema this
 * process runs on (the settings' VIGIL_READ_MODEL_SCHEMA), `public` unless forced, a schema that holds no read
 * models (a typo must not drop someone else's tables), and one that holds an extension (dropping it would drop the
 * extension for every schema). It holds each of the schema's projection leases while it drops, so it refuses
 * (ProjectionBusyError) while a process of that release still runs, and no projector of it can start meanwhile.
 */
export async function dropReadModelSchema(bus: Bus, database: Database, schema: string, options: DropOptions): Promise<DroppedSchema> {
  if (schema === database.schema) throw new ReadModelSchemaRefusedError(schema, 'it is the schema these settings run on (VIGIL_READ_MODEL_SCHEMA)');
  if (schema === defaultReadModelSchema && !options.force) throw new ReadModelSchemaRefusedError(schema, 'it is the default schema; --force drops it all the same');
  const readModels = await listReadModelSchemas(database);
  const target = readModels.find((s) => s.schema === schema);
  if (!target) throw new ReadModelSchemaRefusedError(schema, 'no such schema holds read models (see `vigil read-models list`)');
  const extensions = rowsOf(
    await database.db.execute(sql`select e.extname::text as name from pg_extension e join pg_namespace n on n.oid = e.extnamespace where n.nspname = ${schema}`),
  ).map((r) => String(r['name']));
  if (extensions.length > 0) throw new ReadModelSchemaRefusedError(schema, `it holds the extension(s) ${extensions.join(', ')}, which every schema shares`);

  const consumers = await consumersOf(bus, schema);
  const projections = [...new Set([...target.projections.map((p) => p.name), ...consumers.map((c) => c.projection)])].sort();
  const held: Lease[] = [];
  try {
    for (const projection of projections) {
      const lease = await createLease(bus, projectorNames(schema, projection).lease, options.instance);
      const wait = AbortSignal.timeout(options.leaseWaitMs ?? 5000);
      await lease.acquire(wait);
      if (wait.aborted) throw new ProjectionBusyError(`${projection} in schema ${schema}`, 'its lease was not released');
      held.push(lease);
    }
    const deleted: string[] = [];
    for (const c of consumers) {
      try {
        await bus.jsm.consumers.delete(c.stream, c.consumer);
        deleted.push(`${c.stream}/${c.consumer}`);
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
      }
    }
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`drop schema ${sql.identifier(schema)} cascade`);
      // `public` records its migrations outside itself (migrationsTableOf): forget them too, or opening it again
      // would find every migration applied and create no table.
      const migrations = migrationsTableOf(schema);
      if (migrations.migrationsSchema !== schema) {
        await tx.execute(sql`drop table if exists ${sql.identifier(migrations.migrationsSchema)}.${sql.identifier(migrations.migrationsTable)}`);
      }
    });
    bus.logger.info({ schema, projections, consumers: deleted }, 'read-model schema dropped');
    return { schema, projections, consumers: deleted };
  } finally {
    for (const lease of held) await lease.release();
  }
}
