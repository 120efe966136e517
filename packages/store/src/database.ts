import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@vigil/log';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), '..', 'drizzle');

export interface Database {
  /** PostgreSQL through postgres.js, or the embedded PGlite. */
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /** Round trip to the database, in ms; throws when it does not answer. */
  ping(): Promise<number>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A postgres:// URL; without one the embedded PGlite is used. */
  readonly url?: string;
  /** PGlite's directory; `memory://` keeps it in memory. */
  readonly dataDir?: string;
  readonly logger: Logger;
  readonly maxConnections?: number;
}

// Any fixed number: every Vigil process migrating the same database takes this lock first.
const migrationLock = 7_411_306_241;

/** Opens the read-model database and applies pending migrations (one process at a time on PostgreSQL). */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const started = performance.now();
  const database = options.url ? await openPostgres(options.url, options.maxConnections ?? 10) : await openPglite(options.dataDir ?? 'memory://');
  options.logger.info(
    { database: database.kind, ms: Math.round(performance.now() - started) },
    'database open, migrations applied',
  );
  return database;
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const client = postgres(url, { max, onnotice: () => {} });
  const db = drizzlePostgres(client, { schema });
  // The lock is held on a client of its own: drizzle(client) changes the serializers of the client it wraps.
  const lock = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await lock`select pg_advisory_lock(${migrationLock})`;
    await migratePostgres(db, { migrationsFolder });
    await lock`select pg_advisory_unlock(${migrationLock})`;
  } finally {
    await lock.end();
  }
  return {
    kind: 'postgres',
    db,
    ping: () => timed(() => db.execute(sql`select 1`)),
    close: () => client.end({ timeout: 5 }),
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  if (!dataDir.includes('://')) await mkdir(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  const db = drizzlePglite(client, { schema });
  await migratePglite(db, { migrationsFolder });
  return {
    kind: 'pglite',
    db,
    ping: () => timed(() => db.execute(sql`select 1`)),
    close: () => client.close(),
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Migrations in the folder and how many the database has applied: "migrations applied" for readiness. */
export async function migrationStatus(database: Database): Promise<{ known: number; applied: number }> {
  const { readFile } = await import('node:fs/promises');
  const journal: unknown = JSON.parse(await readFile(join(migrationsFolder, 'meta', '_journal.json'), 'utf8'));
  const known = typeof journal === 'object' && journal !== null && 'entries' in journal && Array.isArray(journal.entries) ? journal.entries.length : 0;
  const rows = await database.db.execute(sql`select count(*)::int as applied from drizzle.__drizzle_migrations`);
  const applied = Number(rowsOf(rows)[0]?.['applied'] ?? 0);
  return { known, applied };
}

/** The rows of a raw `execute`, which postgres.js returns as an array and PGlite as `{ rows }`. */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  const rows = Array.isArray(result) ? result : typeof result === 'object' && result !== null && 'rows' in result && Array.isArray(result.rows) ? result.rows : [];
  return rows.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
}
