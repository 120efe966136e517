// The auditor's command line as a person runs it, on the embedded database (PGlite in VIGIL_DATA_DIR, Vigil
// stopped) and a real NATS: verify, export, replay, projections verify and rebuild, and a tampered row found.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { append, createEvent } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { defineEvent, StreamName, vigilEvents } from '@vigil/schemas';
import { openDatabase, readCheckpoint } from '@vigil/store';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import Type from 'typebox';
import { auditProjection } from '../src/projection.ts';
import { createAuditService } from '../src/service.ts';

const UserCreated = defineEvent(StreamName.AuthEvent, 'test.user.created', 1, Type.Object({}, { additionalProperties: false }));
const root = join(import.meta.dirname, '..', '..', '..');
const cli = join(root, 'services', 'vigil', 'src', 'cli.ts');

let t: TestBus;
let dataDir: string;
let env: Record<string, string>;

function vigil(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

async function withDatabase<T>(use: (database: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const database = await openDatabase({ logger: testLogger(), dataDir: join(dataDir, 'pglite') });
  try {
    return await use(database);
  } finally {
    await database.close();
  }
}

before(async () => {
  t = await startTestBus({ registry: vigilEvents.with([UserCreated]) });
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-audit-cli-'));
  env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NATS_URL: t.nats.url, VIGIL_NAMESPACE: t.bus.names.namespace, VIGIL_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  // Vigil runs for a while, then stops: the embedded database is the CLI's alone.
  await withDatabase(async (database) => {
    const service = await createAuditService({ checkpointEvery: 3 }).start({ config: loadConfig({}), logger: testLogger(), bus: t.bus, database, instance: 'cli-test', version: 'test' });
    try {
      for (let i = 0; i < 7; i++) await append(t.bus, `auth.acme.user.u${i}`, createEvent(UserCreated, {}, { actor: { kind: 'user', id: 'admin' }, tenant: 'acme' }));
      const deadline = Date.now() + 20_000;
      for (;;) {
        const last = (await t.bus.jsm.streams.info(t.bus.names.stream('AUDIT'))).state.last_seq;
        // 7 summaries and 2 checkpoints (positions 3 and 6), all applied.
        if (last >= 9 && (await readCheckpoint(database, auditProjection.name)) >= last) break;
        if (Date.now() > deadline) throw new Error('the audit projection did not catch up');
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await service.stop();
    }
  });
});

after(async () => {
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('vigil audit verify reports an intact chain in one plain line', { timeout: 60_000 }, async () => {
  const r = await vigil('audit', 'verify');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^intact: 7 records up to seq \d+, head hash [0-9a-f]{64} \(2 checkpoints verified; table and stream agree\)\n$/);
  assert.equal(r.err, '', 'no progress on a stderr that is not a terminal');
});

test('vigil audit export writes JSON Lines with the chain fields, filtered', { timeout: 60_000 }, async () => {
  const r = await vigil('audit', 'export', '--tenant', 'acme', '--category', 'administration', '--since', '2000-01-01');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l): unknown => JSON.parse(l));
  assert.equal(lines.length, 7);
  for (const line of lines) {
    assert.ok(typeof line === 'object' && line !== null);
    for (const field of ['position', 'seq', 'prev_hash', 'hash', 'algorithm', 'category', 'tenant', 'actor']) assert.ok(field in line, field);
  }
  const none = await vigil('audit', 'export', '--tenant', 'nobody');
  assert.equal(none.out, '');
  assert.equal((await vigil('audit', 'export', '--since', 'yesterday-ish')).code, 2);
});

test('vigil audit replay prints a stream as recorded', { timeout: 60_000 }, async () => {
  const r = await vigil('audit', 'replay', '--stream', 'AUTH_EVENT', '--from-seq', '3', '--until-seq', '5');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').map((l): unknown => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => (typeof l === 'object' && l !== null && 'seq' in l ? l.seq : undefined)),
    [3, 4, 5],
  );
  const bad = await vigil('audit', 'replay', '--stream', 'NOPE');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--stream must be one of/);
});

test('a tampered row is named; projections verify reports it; rebuild restores the chain', { timeout: 120_000 }, async () => {
  assert.match((await vigil('projections', 'verify')).out, /audit_log \(up to seq \d+\): equal to a rebuild/);
  await withDatabase(async (database) => {
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`alter table audit_log disable trigger audit_log_append_only`);
      await tx.execute(sql`update audit_log set tenant = 'other' where position = 2`);
      await tx.execute(sql`alter table audit_log enable trigger audit_log_append_only`);
    });
  });
  const broken = await vigil('audit', 'verify');
  assert.equal(broken.code, 1);
  assert.match(broken.out, /^broken at record 2 \(seq \d+\): content does not match its hash\n {2}expected: [0-9a-f]{64}\n {2}found: {4}[0-9a-f]{64}\n/);
  const differs = await vigil('projections', 'verify');
  assert.equal(differs.code, 1);
  assert.match(differs.out, /audit_log\s+DIFFERENT {2}live 7 rows, checksum \w+; rebuilt 7 rows/);
  const rebuilt = await vigil('projections', 'rebuild', 'audit_log');
  assert.equal(rebuilt.code, 0, rebuilt.err);
  assert.match(rebuilt.out, /audit_log: rebuilt up to seq \d+/);
  assert.equal((await vigil('audit', 'verify')).code, 0);
});
