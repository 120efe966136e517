import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '@vigil/store';
import postgres from 'postgres';
import { dockerAnswers } from './docker.ts';
import { testLogger } from './nats.ts';

export type DatabaseKind = 'postgres' | 'pglite';

export interface TestDatabase {
  readonly database: Database;
  /** The URL of the fresh database (PostgreSQL only). */
  readonly url?: string;
  /** Drops the fresh database (PostgreSQL) and closes every connection. */
  close(): Promise<void>;
}

const localUrl = () => process.env['DATABASE_URL'] ?? `postgres://${process.env['PGUSER'] ?? 'postgres'}@${process.env['PGHOST'] ?? '127.0.0.1'}:${process.env['PGPORT'] ?? '5432'}/postgres`;

let serverUrl: Promise<string | undefined> | undefined;

/** A PostgreSQL server to create test databases on: DATABASE_URL, a local server, or a container; none → undefined. */
export function postgresServerUrl(): Promise<string | undefined> {
  serverUrl ??= (async () => {
    const url = localUrl();
    const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await probe`select 1`;
      return url;
    } catch {
      if (process.env['DATABASE_URL']) throw new Error('DATABASE_URL is set but does not answer');
    } finally {
      await probe.end({ timeout: 1 });
    }
    if (await dockerAnswers()) {
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer('timescale/timescaledb:latest-pg16')
        .withEnvironment({ POSTGRES_PASSWORD: 'vigil' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      return `postgres://postgres:vigil@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
    }
    return undefined;
  })();
  return serverUrl;
}

/** The kinds this machine can test on: PGlite always, PostgreSQL when one answers. */
export async function availableDatabaseKinds(): Promise<DatabaseKind[]> {
  return (await postgresServerUrl()) ? ['postgres', 'pglite'] : ['pglite'];
}

/**
 * A fresh, migrated database for one test: a new database on the PostgreSQL server (so test files run in
 * parallel without sharing rows), or an in-memory PGlite.
 */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const logger = testLogger('store');
  if (kind === 'pglite') {
    const database = await openDatabase({ logger, dataDir: 'memory://' });
    return { database, close: () => database.close() };
  }
  const server = await postgresServerUrl();
  if (!server) throw new Error('no PostgreSQL server answers (set DATABASE_URL, or run one on 127.0.0.1:5432)');
  const name = `vigil_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  const database = await openDatabase({ logger, url: url.toString(), maxConnections: 5 });
  return {
    database,
    url: url.toString(),
    async close() {
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 1 });
    },
  };
}
