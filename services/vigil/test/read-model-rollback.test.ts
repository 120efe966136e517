// Vigil's migration and rollback story, played with the audit service on real NATS and PostgreSQL: release A runs on
// schema public; release B's schema is built from the streams with the CLI while A runs, then B runs beside A; the
// switch stops A; the rollback starts A again, which catches up from its own checkpoint; both schemas are equal,
// and the CLI drops B's schema with its consumer. (PGlite, one process, plays it in @vigil/store's tests.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createAuditService } from '@vigil/audit';
import { append, createEvent } from '@vigil/bus';
import { startProcess, type RunningProcess } from '@vigil/runtime';
import { AccessDeniedAudit } from '@vigil/schemas';
import { readCheckpoint, rowsOf, type Database } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus, type TestBus, type TestDatabase } from '@vigil/testkit';
import { sql } from 'drizzle-orm';

const root = join(import.meta.dirname, '..', '..', '..');
const cli = join(root, 'services', 'vigil', 'src', 'cli.ts');
const postgresAvailable = (await availableDatabaseKinds()).includes('postgres');

let t: TestBus;
let db: TestDatabase;
let dataDir: string;
let env: Record<string, string>;

before(async () => {
  if (!postgresAvailable) return;
  t = await startTestBus();
  db = await createTestDatabase('postgres');
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-rollback-'));
  env = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    NATS_URL: t.nats.url,
    VIGIL_NAMESPACE: t.bus.names.namespace,
    DATABASE_URL: db.url ?? '',
    VIGIL_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
});

after(async () => {
  if (!postgresAvailable) return;
  await db.close();
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

function vigil(extraEnv: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

/** One release's audit worker, as its own process would run it: settings, bus, database, the service. */
function startRelease(name: string, schema?: string): Promise<RunningProcess> {
  return startProcess(name, [createAuditService({ checkpointEvery: 3, leaseTtlMs: 3000 })], {
    embeddedNats: false,
    env: { ...env, VIGIL_INSTANCE: name, ...(schema ? { VIGIL_READ_MODEL_SCHEMA: schema } : {}) },
  });
}

function databaseOf(release: RunningProcess): Database {
  if (!release.database) throw new Error('an audit worker opens the database');
  return release.database;
}

/** Security events on AUDIT, each one record of the chain. */
async function appendRecords(count: number, from: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const event = createEvent(
      AccessDeniedAudit,
      { category: 'authorization', severity: 'warning', user_id: `u${i}`, permission: 'audit:read', route: `GET /audit/events #${i}` },
      { actor: { kind: 'user', id: `u${i}` }, tenant: 'acme' },
    );
    await append(t.bus, 'audit.acme.authorization', event);
  }
}

/** Waits until each database has applied all of AUDIT, and AUDIT no longer grows (summaries and checkpoints settle). */
async function caughtUp(...databases: Database[]): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const last = (await t.bus.jsm.streams.info(t.bus.names.stream('AUDIT'))).state.last_seq;
    const checkpoints = await Promise.all(databases.map((d) => readCheckpoint(d, 'audit_log')));
    if (last > 0 && checkpoints.every((c) => c >= last)) {
      await new Promise((r) => setTimeout(r, 300));
      if ((await t.bus.jsm.streams.info(t.bus.names.stream('AUDIT'))).state.last_seq === last) return last;
    }
    if (Date.now() > deadline) throw new Error(`not caught up: AUDIT at ${last}, checkpoints ${checkpoints.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function consumersOnAudit(): Promise<string[]> {
  const names: string[] = [];
  for await (const c of t.bus.jsm.consumers.list(t.bus.names.stream('AUDIT'))) if (c.name.startsWith('projection_')) names.push(c.name);
  return names.sort();
}

test('a release on a new schema runs beside the old one; rolling back is starting the old one again', { timeout: 240_000, skip: !postgresAvailable && 'no PostgreSQL server' }, async () => {
  // Release A, on the default schema, as every deployment before schemas.
  let releaseA: RunningProcess | undefined = await startRelease('release-a');
  let releaseB: RunningProcess | undefined;
  try {
    await appendRecords(5, 0);
    await caughtUp(databaseOf(releaseA));

    // Release B's read models, built into their own schema from the streams while A runs on. A's projection stays
    // A's: rebuilding public now would have to wait for A's lease.
    const rebuilt = await vigil({}, 'projections', 'rebuild', 'audit_log', '--schema', 'rm_b');
    assert.equal(rebuilt.code, 0, rebuilt.err);
    assert.match(rebuilt.out, /^audit_log: rebuilt up to seq \d+ in [\d.]+ s \(schema rm_b\)\n$/);
    const busy = await vigil({}, 'projections', 'rebuild', 'audit_log');
    assert.equal(busy.code, 1);
    assert.match(busy.err, /projection audit_log is held by a running projector/);
    const verified = await vigil({}, 'projections', 'verify', 'audit_log', '--schema', 'rm_b');
    assert.equal(verified.code, 0, verified.out + verified.err);
    assert.match(verified.out, /audit_log \(up to seq \d+\): equal to a rebuild \(schema rm_b\)/);

    // Release B starts beside A (VIGIL_READ_MODEL_SCHEMA=rm_b): each projects into its own schema, with its own
    // consumer and lease, and both see the new events.
    releaseB = await startRelease('release-b', 'rm_b');
    assert.equal(databaseOf(releaseB).schema, 'rm_b');
    assert.deepEqual(await consumersOnAudit(), ['projection_audit_log', 'projection_rm_b-audit_log']);
    await appendRecords(4, 5);
    const beside = await caughtUp(databaseOf(releaseA), databaseOf(releaseB));
    const projections = (release: RunningProcess) => release.services.flatMap((s) => s.started.projections ?? []);
    for (const release of [releaseA, releaseB]) for (const p of projections(release)) assert.equal((await p.lag()).active, true, 'both releases project');

    // The switch: release A's processes stop; B goes on alone.
    await releaseA.stop();
    releaseA = undefined;
    await appendRecords(3, 9);
    const switched = await caughtUp(databaseOf(releaseB));
    assert.ok(switched > beside);

    // The rollback: B stops, A starts again on its intact schema and catches up from its own checkpoint.
    await releaseB.stop();
    releaseB = undefined;
    releaseA = await startRelease('release-a-again');
    const rolledBack = databaseOf(releaseA);
    assert.ok((await readCheckpoint(rolledBack, 'audit_log')) >= beside);
    assert.equal(await caughtUp(rolledBack), switched, 'nothing new on AUDIT: A applied what B had');

    // Both schemas hold the same chain, row for row, and each is what a rebuild from the stream gives.
    const differing = rowsOf(
      await rolledBack.db.execute(
        sql`select (select count(*)::int from (select * from public.audit_log except select * from rm_b.audit_log) a) + (select count(*)::int from (select * from rm_b.audit_log except select * from public.audit_log) b) as n`,
      ),
    )[0]?.['n'];
    assert.equal(differing, 0);
    const rows = rowsOf(await rolledBack.db.execute(sql`select count(*)::int as n from audit_log`))[0]?.['n'];
    assert.equal(rows, 12, 'a record for every security event (the chain checkpoints on AUDIT are not records)');
    for (const schema of [[], ['--schema', 'rm_b']]) {
      const verify = await vigil({}, 'projections', 'verify', 'audit_log', ...schema);
      assert.equal(verify.code, 0, verify.out + verify.err);
    }

    // B's schema, no longer wanted, is dropped with its consumer; the schema in use never is.
    const list = await vigil({}, 'read-models', 'list');
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^public \(current\)\n {2}audit_log +checkpoint \d+/m);
    assert.match(list.out, /^rm_b\n {2}audit_log +checkpoint \d+/m);
    const refused = await vigil({}, 'read-models', 'drop', '--schema', 'public', '--force');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /schema public cannot be dropped: it is the schema these settings run on/);
    const badName = await vigil({}, 'read-models', 'drop', '--schema', 'RM-B');
    assert.equal(badName.code, 2);
    const dropped = await vigil({}, 'read-models', 'drop', '--schema', 'rm_b');
    assert.equal(dropped.code, 0, dropped.err);
    assert.match(dropped.out, new RegExp(`^dropped schema rm_b \\(projections: audit_log; consumers deleted: ${t.bus.names.stream('AUDIT')}/projection_rm_b-audit_log\\)\\n$`));
    assert.deepEqual(await consumersOnAudit(), ['projection_audit_log']);
    const schemas = rowsOf(await rolledBack.db.execute(sql`select count(*)::int as n from pg_namespace where nspname = 'rm_b'`))[0]?.['n'];
    assert.equal(schemas, 0);
  } finally {
    await releaseB?.stop();
    await releaseA?.stop();
  }
});
