import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@vigil/log';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { MigrationConfig } from 'drizzle-orm/migrator';
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
  /** The schema that holds the read models: every connection's search_path, and the migrations' target. */
  readonly schema: string;
  readonly db: Db;
  /** Round trip to the database, in ms; throws when it does not answer. */
  ping(): Promise<number>;
  /**
   * Runs `work` in one transaction of the driver itself, which Drizzle's cannot give: COPY FROM STDIN for bulk
   * loads (a projection rebuild). Committed when `work` resolves, rolled back when it throws.
   */
  bulkTransaction<T>(work: (session: BulkSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A value a bulk statement takes as a parameter. */
export type BulkParameter = string | number | boolean | null;

/** Statements and COPY inside one transaction (Database.bulkTransaction). */
export interface BulkSession {
  /** One statement with `$1`… parameters; its rows. */
  query(text: string, params?: readonly BulkParameter[]): Promise<Record<string, unknown>[]>;
  /**
   * `COPY table (columns) FROM STDIN` in text format, fed with `chunks` (whole lines each) as they come, so the
   * caller prepares the next rows while the database stores the last ones.
   */
  copyIn(table: string, columns: readonly string[], chunks: AsyncIterable<Uint8Array>): Promise<void>;
}

/** A name as an SQL identifier, always quoted: table and column names of bulk statements come from code. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function copyStatement(table: string, columns: readonly string[], source: string): string {
  return `copy ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')}) from ${source}`;
}

export interface DatabaseOptions {
  /** A postgres:// URL; without one the embedded PGlite is used. */
  readonly url?: string;
  /** PGlite's directory; `memory://` keeps it in memory. */
  readonly dataDir?: string;
  readonly logger: Logger;
  readonly maxConnections?: number;
  /**
   * The schema of the read models (VIGIL_READ_MODEL_SCHEMA), created when missing and migrated on its own; default
   * `public`. A plain lowercase identifier: it is also part of the projectors' consumer and lease names.
   */
  readonly schema?: string;
}

/** Where read models live unless VIGIL_READ_MODEL_SCHEMA says otherwise: where they always lived. */
export const defaultReadModelSchema = 'public';

/**
 * Where a schema's applied migrations are recorded. `public` keeps Drizzle's default (`drizzle.__drizzle_migrations`),
 * as deployments from before schemas have it; any other schema records its own inside itself, so two releases
 * migrate their schemas independently and dropping a schema forgets its migrations with it.
 */
export function migrationsTableOf(readModelSchema: string): { readonly migrationsSchema: string; readonly migrationsTable: string } {
  return { migrationsSchema: readModelSchema === defaultReadModelSchema ? 'drizzle' : readModelSchema, migrationsTable: '__drizzle_migrations' };
}

// Any fixed number: every Vigil process migrating the same database takes this lock first, whatever its schema
// (an advisory lock is per database): migrations of two schemas never interleave.
const migrationLock = 7_411_306_241;

/** Opens the read-model database and applies pending migrations (one process at a time on PostgreSQL). */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const started = performance.now();
  const readModelSchema = options.schema ?? defaultReadModelSchema;
  const database = options.url
    ? await openPostgres(options.url, options.maxConnections ?? 10, readModelSchema)
    : await openPglite(options.dataDir ?? 'memory://', readModelSchema);
  options.logger.info(
    { database: database.kind, schema: database.schema, ms: Math.round(performance.now() - started) },
    'database open, migrations applied',
  );
  return database;
}

/**
 * The migrations of a read-model schema. The migration files name no schema (a test keeps it so): their tables,
 * indexes, functions and triggers land in the first schema of the search_path, which every connection sets to the
 * read-model schema and to nothing else, so no name resolves to another release's tables.
 */
function migrationConfig(readModelSchema: string): MigrationConfig {
  return { migrationsFolder, ...migrationsTableOf(readModelSchema) };
}

async function openPostgres(url: string, max: number, readModelSchema: string): Promise<Database> {
  // A startup parameter, so every connection of the pool (and a reserved one) starts in the read-model schema.
  const connection = { search_path: quoteIdentifier(readModelSchema) };
  const client = postgres(url, { max, onnotice: () => {}, connection });
  const db = drizzlePostgres(client, { schema });
  // The lock is held on a client of its own: drizzle(client) changes the serializers of the client it wraps.
  const lock = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await lock`select pg_advisory_lock(${migrationLock})`;
    await lock.unsafe(`create schema if not exists ${quoteIdentifier(readModelSchema)}`);
    await migratePostgres(db, migrationConfig(readModelSchema));
    await lock`select pg_advisory_unlock(${migrationLock})`;
  } catch (err) {
    await client.end({ timeout: 5 });
    throw err;
  } finally {
    await lock.end();
  }
  return {
    kind: 'postgres',
    schema: readModelSchema,
    db,
    ping: () => timed(() => db.execute(sql`select 1`)),
    async bulkTransaction<T>(work: (session: BulkSession) => Promise<T>): Promise<T> {
      // A reserved connection with BEGIN and COMMIT of our own, not sql.begin(): inside sql.begin() any statement
      // that fails fails the transaction, and the COPY below asks the driver for statements it may refuse.
      const connection = await client.reserve();
      try {
        await connection.unsafe('begin');
        try {
          const result = await work({
            query: async (text, params = []) => rowsOf(await connection.unsafe(text, [...params])),
            async copyIn(table, columns, chunks) {
              const writable = await connection.unsafe(copyStatement(table, columns, 'stdin')).writable();
              await writeAll(writable, chunks, () => connection.unsafe('select 1'));
            },
          });
          // COMMIT of a transaction that failed answers ROLLBACK, not an error.
          const committed = await connection.unsafe('commit');
          if (committed.command !== 'COMMIT') throw new Error(`the bulk transaction ended with ${committed.command}`);
          return result;
        } catch (err) {
          await connection.unsafe('rollback').catch(() => {});
          throw err;
        }
      } finally {
        connection.release();
      }
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Writes every chunk, waiting for 'drain' when the socket is behind, then ends the COPY and waits for the server
 * to accept it. A failing source aborts the COPY (postgres.js sends CopyFail), so the transaction fails with it.
 *
 * postgres.js 3.4 never settles the writable when the server refuses the COPY after the end of the data
 * (porsager/postgres#1173), which is the usual case (a duplicate key in the last rows arrives after the end was
 * sent). So a statement is queued behind the COPY as soon as the driver takes one (`probe`): in a transaction whose
 * COPY failed it fails too, and that is the refusal (the server's own reason is lost with the driver's bug).
 */
async function writeAll(writable: Writable, chunks: AsyncIterable<Uint8Array>, probe: () => PromiseLike<unknown>): Promise<void> {
  const refused = new Promise<never>((_, reject) => writable.once('error', reject));
  refused.catch(() => {});
  try {
    for await (const chunk of chunks) {
      if (writable.destroyed) throw writable.errored ?? new Error('the COPY stream was closed');
      if (!writable.write(chunk)) await Promise.race([once(writable, 'drain'), refused]);
    }
  } catch (err) {
    writable.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  writable.end();
  let settled = false;
  const accepted = finished(writable).then(() => {
    settled = true;
  });
  const probed = (async () => {
    // The driver refuses statements until it has sent the end of the COPY (harmless on a reserved connection):
    // ask again until it takes this one.
    while (!settled) {
      try {
        await probe();
        return;
      } catch (err) {
        if (!(err instanceof Error && 'code' in err && err.code === 'COPY_IN_PROGRESS')) {
          throw new Error('the database refused the COPY', { cause: err });
        }
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  // Whichever answers first is the outcome; the others are left to settle (or not: see above) unobserved.
  accepted.catch(() => {});
  probed.catch(() => {});
  await Promise.race([refused, accepted, probed]);
}

/** PGlite reads COPY input from a blob: rows go in blobs of about this many bytes. */
const pgliteCopyBytes = 8 * 1024 * 1024;

async function openPglite(dataDir: string, readModelSchema: string): Promise<Database> {
  if (!dataDir.includes('://')) await mkdir(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  const db = drizzlePglite(client, { schema });
  try {
    // PGlite is one session: its search_path, set once, is every later statement's (transactions included).
    await client.exec(`create schema if not exists ${quoteIdentifier(readModelSchema)}; set search_path to ${quoteIdentifier(readModelSchema)}`);
    await migratePglite(db, migrationConfig(readModelSchema));
  } catch (err) {
    await client.close();
    throw err;
  }
  return {
    kind: 'pglite',
    schema: readModelSchema,
    db,
    ping: () => timed(() => db.execute(sql`select 1`)),
    bulkTransaction: (work) =>
      client.transaction((tx) =>
        work({
          query: async (text, params = []) => rowsOf(await tx.query(text, [...params])),
          async copyIn(table, columns, chunks) {
            let parts: Uint8Array[] = [];
            let bytes = 0;
            const flush = async () => {
              if (parts.length === 0) return;
              const blob = new Blob(parts);
              parts = [];
              bytes = 0;
              await tx.query(copyStatement(table, columns, `'/dev/blob'`), [], { blob });
            };
            for await (const chunk of chunks) {
              parts.push(chunk);
              bytes += chunk.length;
              if (bytes >= pgliteCopyBytes) await flush();
            }
            await flush();
          },
        }),
      ),
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
  const table = migrationsTableOf(database.schema);
  const rows = await database.db.execute(sql`select count(*)::int as applied from ${sql.identifier(table.migrationsSchema)}.${sql.identifier(table.migrationsTable)}`);
  const applied = Number(rowsOf(rows)[0]?.['applied'] ?? 0);
  return { known, applied };
}

/** The rows of a raw `execute`, which postgres.js returns as an array and PGlite as `{ rows }`. */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  const rows = Array.isArray(result) ? result : typeof result === 'object' && result !== null && 'rows' in result && Array.isArray(result.rows) ? result.rows : [];
  return rows.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null);
}
