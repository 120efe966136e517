// The DDL of telemetry_readings, which no Drizzle migration can express: a TimescaleDB hypertable when the server
// has the extension, otherwise native range partitioning by day. Idempotent, serialised by an advisory lock, and
// run by every replica at start (and by a projection reset or rebuild, through the projection's `prepare`).
import { rowsOf, type Database, type Tx } from '@vigil/store';
import { sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { daysAhead, distinctDays, expiredPartitions, keptWindow, partitionBounds, partitionName, readingsTable, type RetentionPolicy } from './partition-plan.ts';

export type TelemetryStorageKind = 'timescaledb' | 'partitioned';

// Any fixed number, not the migrations' own: every process creating or dropping partitions takes it first.
const storageLock = 7_411_306_242;

/** The continuous aggregate kept on TimescaleDB: hourly avg/min/max/count per device and metric. */
export const hourlyAggregate = 'telemetry_readings_hourly';

const columns = sql.raw(`
  tenant text not null,
  device_id uuid not null,
  metric text not null,
  measured_at timestamp (3) with time zone not null,
  value double precision not null,
  seq bigint not null`);

/** Raw SQL text of our own making (identifiers and ISO times we formatted), never input. */
const literal = (text: string): SQL => sql.raw(`'${text.replace(/'/g, "''")}'`);

async function lock(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${storageLock})`);
}

async function scalar(tx: Tx, query: SQL): Promise<unknown> {
  const row = rowsOf(await tx.execute(query))[0];
  return row ? Object.values(row)[0] : undefined;
}

/** What the table is now: partitioned, a hypertable, missing, or something else (a plain table nobody should have made). */
async function currentKind(tx: Tx): Promise<TelemetryStorageKind | 'missing' | 'plain'> {
  const relkind = await scalar(tx, sql`select relkind::text from pg_class where oid = to_regclass(${readingsTable})`);
  if (relkind === undefined || relkind === null) return 'missing';
  if (relkind === 'p') return 'partitioned';
  const timescale = await scalar(tx, sql`select count(*)::int from pg_extension where extname = 'timescaledb'`);
  if (Number(timescale) === 0) return 'plain';
  const hypertable = await scalar(
    tx,
    sql`select count(*)::int from timescaledb_information.hypertables where hypertable_name = ${readingsTable} and hypertable_schema = current_schema()`,
  );
  return Number(hypertable) > 0 ? 'timescaledb' : 'plain';
}

async function createPartitioned(tx: Tx): Promise<void> {
  await tx.execute(sql`create table if not exists ${sql.identifier(readingsTable)} (${columns}) partition by range (measured_at)`);
  // Created on the parent, so every partition gets them: the btree answers one device's readings and series in
  // order; the BRIN (tiny, as readings arrive roughly in time order) serves scans by time across devices.
  await tx.execute(sql`create index if not exists telemetry_readings_device_metric_at on ${sql.identifier(readingsTable)} (tenant, device_id, metric, measured_at, seq)`);
  await tx.execute(sql`create index if not exists telemetry_readings_at_brin on ${sql.identifier(readingsTable)} using brin (measured_at)`);
}

/**
 * The schema TimescaleDB's functions live in (where the extension was created, `public` as a rule). The search_path
 * holds the read-model schema alone (VIGIL_READ_MODEL_SCHEMA, @vigil/store), so calls to them name it.
 */
async function timescaleSchema(tx: Tx): Promise<SQLWrapper> {
  const schema = await scalar(tx, sql`select n.nspname::text from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'timescaledb'`);
  if (typeof schema !== 'string') throw new Error('the timescaledb extension is not installed');
  return sql.identifier(schema);
}

/** Creates the extension if it can; false when the server has it but will not load it (not preloaded, no rights). */
async function createTimescaleExtension(tx: Tx): Promise<boolean> {
  try {
    // A savepoint: a refusal must not abort the transaction that then falls back to partitioning. In `public`, not
    // in the read-model schema first on the search_path: every schema shares the extension, and dropping an old
    // release's schema must not take it away.
    await tx.transaction(async (inner) => {
      await inner.execute(sql`create extension if not exists timescaledb schema public`);
    });
    return true;
  } catch {
    return false;
  }
}

async function createHypertable(tx: Tx): Promise<void> {
  const table = sql.identifier(readingsTable);
  const timescale = await timescaleSchema(tx);
  await tx.execute(sql`create table if not exists ${table} (${columns})`);
  await tx.execute(sql`select ${timescale}.create_hypertable(${readingsTable}::regclass, 'measured_at', chunk_time_interval => interval '1 day', if_not_exists => true)`);
  await tx.execute(sql`create index if not exists telemetry_readings_device_metric_at on ${table} (tenant, device_id, metric, measured_at, seq)`);
  // Compressed per device and metric, in time order: what the queries read together.
  await tx.execute(
    sql`alter table ${table} set (timescaledb.compress, timescaledb.compress_segmentby = 'tenant, device_id, metric', timescaledb.compress_orderby = 'measured_at, seq')`,
  );
  await tx.execute(sql`select ${timescale}.add_compression_policy(${readingsTable}::regclass, compress_after => interval '7 days', if_not_exists => true)`);
  // WITH NO DATA: a continuous aggregate cannot be filled inside a transaction; its policy fills it.
  await tx.execute(sql`create materialized view if not exists ${sql.identifier(hourlyAggregate)} with (timescaledb.continuous) as
    select tenant, device_id, metric, ${timescale}.time_bucket(interval '1 hour', measured_at) as bucket,
           avg(value) as avg, min(value) as min, max(value) as max, count(*) as count
    from ${table} group by tenant, device_id, metric, bucket with no data`);
  await tx.execute(
    sql`select ${timescale}.add_continuous_aggregate_policy(${hourlyAggregate}::regclass, start_offset => interval '3 days', end_offset => interval '1 hour', schedule_interval => interval '1 hour', if_not_exists => true)`,
  );
}

/**
 * Makes sure telemetry_readings exists and says how it is stored. An existing table keeps its kind (moving between
 * the two is a drop and a rebuild from the stream); a new one is a hypertable when `pg_available_extensions` has
 * timescaledb and the server loads it, partitioned by day otherwise (this machine, PGlite).
 */
export async function prepareTelemetryStorage(database: Database): Promise<TelemetryStorageKind> {
  return database.db.transaction(async (tx) => {
    await lock(tx);
    const kind = await currentKind(tx);
    if (kind === 'plain') {
      throw new Error(`${readingsTable} exists but is neither partitioned nor a hypertable: drop it, then \`vigil projections rebuild telemetry\``);
    }
    if (kind === 'timescaledb') return kind;
    if (kind === 'partitioned') {
      await createPartitioned(tx);
      return kind;
    }
    const available = Number(await scalar(tx, sql`select count(*)::int from pg_available_extensions where name = 'timescaledb'`)) > 0;
    if (available && (await createTimescaleExtension(tx))) {
      await createHypertable(tx);
      return 'timescaledb';
    }
    await createPartitioned(tx);
    return 'partitioned';
  });
}

/**
 * Inside a projector's transaction: creates the daily partitions the given instants need (late or early readings
 * whose day has none yet). Nothing to do on a hypertable, or on the plain copy a `projections verify` replays into.
 */
export async function ensurePartitions(tx: Tx, instants: Iterable<number>): Promise<string[]> {
  const days = new Map(distinctDays(instants).map((day) => [partitionName(day), day]));
  if (days.size === 0) return [];
  const row = rowsOf(
    await tx.execute(sql`select
      (select relkind::text from pg_class where oid = to_regclass(${readingsTable})) as kind,
      (select string_agg(d, ',') from unnest(string_to_array(${[...days.keys()].join(',')}, ',')) d where to_regclass(d) is null) as missing`),
  )[0];
  if (row?.['kind'] !== 'p' || typeof row['missing'] !== 'string') return [];
  await lock(tx);
  const missing = row['missing'].split(',');
  for (const name of missing) {
    const day = days.get(name);
    if (day !== undefined) await createPartition(tx, day);
  }
  return missing;
}

async function createPartition(tx: Tx, day: number): Promise<void> {
  const bounds = partitionBounds(day);
  await tx.execute(
    sql`create table if not exists ${sql.identifier(partitionName(day))} partition of ${sql.identifier(readingsTable)} for values from (${literal(bounds.from)}) to (${literal(bounds.to)})`,
  );
}

export interface MaintenanceResult {
  readonly kind: TelemetryStorageKind;
  readonly created: readonly string[];
  readonly dropped: readonly string[];
}

/**
 * One maintenance pass: partitions from today to `aheadDays` ahead exist, and whatever lies wholly before the
 * retention window is dropped (whole partitions, or TimescaleDB chunks) — never a row-by-row DELETE.
 */
export async function maintainTelemetryStorage(database: Database, policy: RetentionPolicy, now: number): Promise<MaintenanceResult> {
  const kind = await prepareTelemetryStorage(database);
  return database.db.transaction(async (tx) => {
    await lock(tx);
    if (kind === 'timescaledb') {
      const cutoff = new Date(keptWindow(now, policy).from).toISOString();
      const dropped = rowsOf(await tx.execute(sql`select ${await timescaleSchema(tx)}.drop_chunks(${readingsTable}::regclass, older_than => ${cutoff}::timestamptz)::text as chunk`)).map((r) => String(r['chunk']));
      return { kind, created: [], dropped };
    }
    const existing = rowsOf(
      await tx.execute(sql`select c.relname::text as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = to_regclass(${readingsTable})`),
    ).map((r) => String(r['name']));
    const present = new Set(existing);
    const created: string[] = [];
    for (const day of daysAhead(now, policy)) {
      const name = partitionName(day);
      if (present.has(name)) continue;
      await createPartition(tx, day);
      created.push(name);
    }
    const dropped = expiredPartitions(existing, now, policy);
    for (const name of dropped) await tx.execute(sql`drop table if exists ${sql.identifier(name)}`);
    return { kind, created, dropped };
  });
}

/** The partitions of telemetry_readings by name, in order (tests and health). */
export async function listPartitions(database: Database): Promise<string[]> {
  const rows = rowsOf(
    await database.db.execute(sql`select c.relname::text as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = to_regclass(${readingsTable}) order by 1`),
  );
  return rows.map((r) => String(r['name']));
}
