// Read models in a schema of their own (VIGIL_READ_MODEL_SCHEMA): migrated there with every connection kept there,
// projected under their own consumer and lease names, a release rolled back to catching up from its checkpoint,
// and an old release's schema dropped with its consumers, never the one in use.
import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { availableDatabaseKinds, createTestDatabase, startTestBus, testLogger, type DatabaseKind, type TestBus, type TestDatabase } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import {
  createLease,
  dropReadModelSchema,
  listReadModelSchemas,
  migrationsFolder,
  migrationStatus,
  openDatabase,
  ProjectionBusyError,
  projectionOfConsumer,
  projectorNames,
  readCheckpoint,
  ReadModelSchemaRefusedError,
  rebuildProjection,
  rowsOf,
  startProjector,
  type Database,
  type RunningProjector,
} from '../src/index.ts';
import { testRegistry } from '../../bus/test/test-events.ts';
import { appendCounterEvents, counterProjection, createCounterTable, projectedRows } from './test-projection.ts';

let t: TestBus;
before(async () => {
  t = await startTestBus({ registry: testRegistry });
});
after(async () => {
  await t.close();
});

const appendMany = (count: number, from: number) => appendCounterEvents(t.bus, count, from);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function scalar(database: Database, query: ReturnType<typeof sql>): Promise<unknown> {
  const row = rowsOf(await database.db.execute(query))[0];
  return row ? Object.values(row)[0] : undefined;
}

async function consumerNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const c of t.bus.jsm.consumers.list(t.bus.names.stream('AUTH_EVENT'))) names.push(c.name);
  return names.sort();
}

test('the migration files name no schema, so they create everything in the schema they are applied to', async () => {
  // drizzle-kit writes "public". into foreign keys and enum types: such a migration would put them in public
  // whatever VIGIL_READ_MODEL_SCHEMA says. Take the qualifier out of the generated file before it is first applied.
  const files = (await readdir(migrationsFolder)).filter((f) => f.endsWith('.sql'));
  assert.ok(files.length >= 5);
  for (const file of files) {
    const text = await readFile(join(migrationsFolder, file), 'utf8');
    assert.doesNotMatch(text, /"?public"?\s*\./i, `${file} names the public schema`);
  }
});

test('lease and consumer names carry the schema, except in public, and belong to one schema only', () => {
  assert.deepEqual(projectorNames('public', 'audit_log'), { lease: 'projection.audit_log', consumer: 'projection_audit_log' });
  assert.deepEqual(projectorNames('rm_b', 'audit_log'), { lease: 'projection.rm_b-audit_log', consumer: 'projection_rm_b-audit_log' });
  assert.equal(projectionOfConsumer('rm_b', 'projection_rm_b-audit_log'), 'audit_log');
  assert.equal(projectionOfConsumer('public', 'projection_rm_b-audit_log'), undefined);
  assert.equal(projectionOfConsumer('rm_b', 'projection_audit_log'), undefined);
  // public's kme_supply is no projection "supply" of a schema named kme.
  assert.equal(projectionOfConsumer('kme', 'projection_kme_supply'), undefined);
  assert.equal(projectionOfConsumer('public', 'projection_kme_supply'), 'kme_supply');
  assert.equal(projectionOfConsumer('public', 'audit_summariser'), undefined);
});

/** Where two releases' schemas live: one PostgreSQL test database, or one PGlite directory (one open at a time). */
interface Place {
  open(schema: string): Promise<Database>;
  close(): Promise<void>;
}

async function placeFor(kind: DatabaseKind): Promise<Place> {
  if (kind === 'postgres') {
    const test: TestDatabase = await createTestDatabase('postgres');
    const url = test.url;
    if (!url) throw new Error('a PostgreSQL test database has a URL');
    return { open: (schema) => openDatabase({ logger: testLogger(), url, schema, maxConnections: 3 }), close: () => test.close() };
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-schemas-'));
  return { open: (schema) => openDatabase({ logger: testLogger(), dataDir, schema }), close: () => rm(dataDir, { recursive: true, force: true }) };
}

for (const kind of await availableDatabaseKinds()) {
  describe(`read-model schemas on ${kind}`, () => {
    let place: Place;
    before(async () => {
      place = await placeFor(kind);
      await t.bus.jsm.streams.purge(t.bus.names.stream('AUTH_EVENT'), { filter: t.bus.names.subject('auth.proj.>') });
    });
    after(async () => {
      await place.close();
    });

    test('a schema is created and migrated on its own, and every connection of it stays in it', async () => {
      const database = await place.open('rm_b');
      try {
        assert.equal(database.schema, 'rm_b');
        assert.equal(await scalar(database, sql`select current_schema()`), 'rm_b');
        assert.equal(await database.db.transaction(async (tx) => rowsOf(await tx.execute(sql`select current_schema() as s`))[0]?.['s']), 'rm_b');
        assert.equal(await database.bulkTransaction(async (session) => (await session.query('select current_schema() as s'))[0]?.['s']), 'rm_b');
        const status = await migrationStatus(database);
        assert.ok(status.known >= 5);
        assert.equal(status.applied, status.known);
        assert.equal(await scalar(database, sql`select count(*)::int from rm_b.__drizzle_migrations`), status.known);
        // Tables, and the append-only trigger's function, are rm_b's own.
        assert.equal(await scalar(database, sql`select n.nspname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass('audit_log')`), 'rm_b');
        assert.equal(await scalar(database, sql`select n.nspname::text from pg_trigger g join pg_proc p on p.oid = g.tgfoid join pg_namespace n on n.oid = p.pronamespace where g.tgrelid = to_regclass('audit_log') and g.tgname = 'audit_log_append_only'`), 'rm_b');
        await assert.rejects(database.db.execute(sql`truncate audit_log`), (err: unknown) => err instanceof Error && err.cause instanceof Error && /append-only: TRUNCATE refused/.test(err.cause.message));
      } finally {
        await database.close();
      }
      const publicDatabase = await place.open('public');
      try {
        assert.equal(publicDatabase.schema, 'public');
        assert.equal(await scalar(publicDatabase, sql`select current_schema()`), 'public');
        // public keeps Drizzle's own migrations table, as deployments from before schemas have it.
        const status = await migrationStatus(publicDatabase);
        assert.equal(status.applied, status.known);
        assert.equal(await scalar(publicDatabase, sql`select count(*)::int from drizzle.__drizzle_migrations`), status.known);
        assert.deepEqual(
          (await listReadModelSchemas(publicDatabase)).map((s) => [s.schema, s.current]),
          [
            ['public', true],
            ['rm_b', false],
          ],
        );
      } finally {
        await publicDatabase.close();
      }
    });

    test('a new release projects beside the old one; the old one, started again, catches up from its checkpoint', { timeout: 120_000 }, async () => {
      // PostgreSQL runs both releases at once, as a deployment does; PGlite (one process) one after the other.
      const sideBySide = kind === 'postgres';
      const first = await appendMany(20, 1);
      let releaseA: Database | undefined = await place.open('public');
      await createCounterTable(releaseA);
      let projectorA: RunningProjector | undefined = await startProjector(t.bus, releaseA, counterProjection, { instance: 'release-a', leaseTtlMs: 1000 });
      await until('release A', async () => releaseA !== undefined && (await readCheckpoint(releaseA, counterProjection.name)) >= first);
      if (!sideBySide) {
        await projectorA.stop();
        await releaseA.close();
        projectorA = releaseA = undefined;
      }

      // Release B: its schema built from the streams while A runs on; then its own projector keeps it current.
      const releaseB = await place.open('rm_b');
      await createCounterTable(releaseB);
      const rebuilt = await rebuildProjection(t.bus, releaseB, counterProjection, { instance: 'release-b-cli', leaseWaitMs: 2000 });
      assert.equal(rebuilt.checkpoint, first);
      const projectorB = await startProjector(t.bus, releaseB, counterProjection, { instance: 'release-b', leaseTtlMs: 1000 });
      const second = await appendMany(10, 21);
      await until('release B', async () => (await readCheckpoint(releaseB, counterProjection.name)) >= second);
      if (projectorA && releaseA) {
        const a = releaseA;
        await until('release A beside B', async () => (await readCheckpoint(a, counterProjection.name)) >= second);
        assert.equal((await projectorA.lag()).active, true, 'both releases project at once');
        assert.equal((await projectorB.lag()).active, true);
        assert.deepEqual(await consumerNames(), ['projection_rm_b-test_counter', 'projection_test_counter']);
        // The switch: release A's processes stop.
        await projectorA.stop();
        await releaseA.close();
      }
      const third = await appendMany(10, 31);
      await until('release B alone', async () => (await readCheckpoint(releaseB, counterProjection.name)) >= third);
      const rowsB = await projectedRows(releaseB);
      assert.equal(rowsB.length, 40);
      // The rollback: release B stops, release A starts again on its intact schema.
      await projectorB.stop();
      await releaseB.close();
      const reopenedA = await place.open('public');
      try {
        const left = await readCheckpoint(reopenedA, counterProjection.name);
        assert.equal(left, sideBySide ? second : first, 'release A kept its schema and checkpoint');
        const restarted = await startProjector(t.bus, reopenedA, counterProjection, { instance: 'release-a-again', leaseTtlMs: 1000 });
        try {
          await until('release A rolled back to', async () => (await readCheckpoint(reopenedA, counterProjection.name)) >= third);
        } finally {
          await restarted.stop();
        }
        assert.deepEqual(await projectedRows(reopenedA), rowsB, 'both schemas hold the same read model');
      } finally {
        await reopenedA.close();
      }
    });

    test('dropping a schema refuses the one in use, public, a stranger and a running release; then takes its consumers with it', { timeout: 60_000 }, async () => {
      const database = await place.open('public');
      try {
        await assert.rejects(dropReadModelSchema(t.bus, database, 'public', { instance: 'ops', force: true }), ReadModelSchemaRefusedError, 'the schema in use');
        await database.db.execute(sql`create schema if not exists not_ours`);
        await database.db.execute(sql`create table if not exists not_ours.precious (id int)`);
        await assert.rejects(dropReadModelSchema(t.bus, database, 'not_ours', { instance: 'ops' }), /no such schema holds read models/);
        assert.equal(await scalar(database, sql`select count(*)::int from pg_tables where schemaname = 'not_ours'`), 1);

        // A process of release B still holds its projection's lease.
        const running = await createLease(t.bus, projectorNames('rm_b', counterProjection.name).lease, 'release-b-still-up', 1000);
        await running.acquire(AbortSignal.timeout(5000));
        try {
          await assert.rejects(dropReadModelSchema(t.bus, database, 'rm_b', { instance: 'ops', leaseWaitMs: 300 }), ProjectionBusyError);
        } finally {
          await running.release();
        }
        assert.ok((await consumerNames()).includes('projection_rm_b-test_counter'), 'a refused drop deletes nothing');

        const dropped = await dropReadModelSchema(t.bus, database, 'rm_b', { instance: 'ops', leaseWaitMs: 2000 });
        assert.deepEqual(dropped.projections, [counterProjection.name]);
        assert.deepEqual(dropped.consumers, [`${t.bus.names.stream('AUTH_EVENT')}/projection_rm_b-test_counter`]);
        assert.deepEqual(await consumerNames(), ['projection_test_counter'], 'release A keeps its consumer');
        assert.equal(await scalar(database, sql`select count(*)::int from pg_namespace where nspname = 'rm_b'`), 0);
        assert.equal((await projectedRows(database)).length, 40, 'release A keeps its rows');
      } finally {
        await database.close();
      }
      // Opened again, the schema comes back empty and migrated: its migrations went with it.
      const again = await place.open('rm_b');
      try {
        const status = await migrationStatus(again);
        assert.equal(status.applied, status.known);
        assert.equal(await readCheckpoint(again, counterProjection.name), 0);
        // From there, public only goes with --force; its migrations table (outside it) goes too.
        await assert.rejects(dropReadModelSchema(t.bus, again, 'public', { instance: 'ops' }), /--force/);
        await dropReadModelSchema(t.bus, again, 'public', { instance: 'ops', force: true, leaseWaitMs: 2000 });
        assert.deepEqual(await consumerNames(), []);
        assert.equal(await scalar(again, sql`select count(*)::int from pg_namespace where nspname = 'public'`), 0);
      } finally {
        await again.close();
      }
      const publicAgain = await place.open('public');
      try {
        const status = await migrationStatus(publicAgain);
        assert.equal(status.applied, status.known, 'public migrated again from scratch');
        assert.equal(await readCheckpoint(publicAgain, counterProjection.name), 0);
      } finally {
        await publicAgain.close();
      }
    });

    if (kind === 'postgres') {
      test('a schema that holds an extension is never dropped: every schema shares it', async () => {
        const database = await place.open('public');
        const other = await place.open('rm_ext');
        try {
          const available = await scalar(database, sql`select count(*)::int from pg_available_extensions where name = 'citext'`);
          if (Number(available) === 0) return;
          await other.db.execute(sql`create extension if not exists citext schema rm_ext`);
          await assert.rejects(dropReadModelSchema(t.bus, database, 'rm_ext', { instance: 'ops' }), /extension\(s\) citext/);
        } finally {
          await other.close();
          await database.close();
        }
      });
    }
  });
}
