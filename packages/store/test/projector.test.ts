import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { append, createEvent, loadAggregate } from '@vigil/bus';
import { availableDatabaseKinds, createTestDatabase, eventually, startTestBus, testLogger, type TestBus, type TestDatabase } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import { defaultReadModelSchema, migrationStatus, openDatabase, projectorNames, readCheckpoint, resetProjection, startProjector, type Database, type Projection, type RunningProjector } from '../src/index.ts';
import { CounterIncremented, testRegistry } from '../../bus/test/test-events.ts';
import { appendCounterEvents, counterProjection, createCounterTable, projectedRows } from './test-projection.ts';

const actor = { kind: 'system', id: 'test' } as const;
let t: TestBus;
before(async () => {
  t = await startTestBus({ registry: testRegistry });
});
after(async () => {
  await t.close();
});

const appendMany = (count: number, from = 1) => appendCounterEvents(t.bus, count, from);

async function waitForCheckpoint(database: Database, seq: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await readCheckpoint(database, counterProjection.name)) < seq) {
    if (Date.now() > deadline) throw new Error(`checkpoint did not reach ${seq}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of await availableDatabaseKinds()) {
  describe(`projector on ${kind}`, () => {
    let db: TestDatabase;
    let projector: RunningProjector | undefined;
    before(async () => {
      db = await createTestDatabase(kind);
      await createCounterTable(db.database);
      const stream = t.bus.names.stream('AUTH_EVENT');
      await t.bus.jsm.streams.purge(stream, { filter: t.bus.names.subject('auth.proj.>') });
    });
    after(async () => {
      await projector?.stop();
      await db.close();
    });

    test('migrations are applied', async () => {
      const status = await migrationStatus(db.database);
      assert.ok(status.known >= 1);
      assert.equal(status.applied, status.known);
    });

    test('applies events in order, in batches, with its checkpoint', async () => {
      const last = await appendMany(50);
      const commits: number[] = [];
      // The acks the projector sends, as the server receives them: one per batch, not one per event.
      const durable = t.bus.names.consumer(projectorNames(db.database.schema, counterProjection.name).consumer);
      let acks = 0;
      const ackTap = t.bus.nc.subscribe(`$JS.ACK.${t.bus.names.stream('AUTH_EVENT')}.${durable}.>`, {
        callback: () => {
          acks++;
        },
      });
      await t.bus.nc.flush();
      projector = await startProjector(t.bus, db.database, counterProjection, { instance: 'a', batchSize: 16, leaseTtlMs: 1000, onCommit: (_seq, n) => commits.push(n) });
      await waitForCheckpoint(db.database, last);
      const rows = await projectedRows(db.database);
      assert.equal(rows.length, 50);
      assert.deepEqual(
        rows.map((r) => r.by),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      assert.ok(commits.every((n) => n <= 16));
      assert.ok(commits.length < 50, 'events are batched');
      const lag = await projector.lag();
      assert.equal(lag.checkpoint, last);
      // One ack per batch (the consumer acks all up to it) leaves nothing delivered and unacked.
      const current = projector;
      await eventually('every delivered message acked', () => current.lag(), (l) => l.pending === 0);
      ackTap.unsubscribe();
      assert.equal(acks, commits.length, `one ack per batch (${commits.join(', ')})`);
    });

    test('a message that fails validation is terminated and reported, and the projector goes on', async () => {
      const bad = await t.bus.js.publish(t.bus.names.subject('auth.proj.counter.bad'), new TextEncoder().encode('not json'));
      const last = await appendMany(3, 51);
      await waitForCheckpoint(db.database, last);
      assert.equal((await projectedRows(db.database)).length, 53);
      const deadline = Date.now() + 5000;
      for (;;) {
        const audit = await loadAggregate(t.bus, 'audit._platform.system');
        const report = audit.events.find((e) => typeof e.event.data === 'object' && e.event.data !== null && 'stream_seq' in e.event.data && e.event.data.stream_seq === bad.seq);
        if (report) break;
        if (Date.now() > deadline) assert.fail('no AUDIT report of the terminated message');
        await new Promise((r) => setTimeout(r, 20));
      }
      const current = projector;
      if (current) await eventually('the terminated message and those after it settled', () => current.lag(), (l) => l.pending === 0);
    });

    test('rebuilt from sequence 0, it produces the same rows', async () => {
      const before = await projectedRows(db.database);
      await projector?.stop();
      await resetProjection(db.database, counterProjection, testLogger());
      assert.equal((await projectedRows(db.database)).length, 0);
      projector = await startProjector(t.bus, db.database, counterProjection, { instance: 'b', batchSize: 7, leaseTtlMs: 1000 });
      await waitForCheckpoint(db.database, before.at(-1)?.seq ?? 0);
      assert.deepEqual(await projectedRows(db.database), before);
    });

    test('a projector stopped at any moment of its start stops (no message needs to arrive)', { timeout: 30_000 }, async () => {
      // A filter nothing matches: only the stop can end its read.
      const quiet = { ...counterProjection, name: 'quiet_counter', filterSubject: 'auth.quiet.>' };
      for (const delayMs of [0, 1, 5, 20, 50, 200]) {
        const p = await startProjector(t.bus, db.database, quiet, { instance: 'q', leaseTtlMs: 1000 });
        await new Promise((r) => setTimeout(r, delayMs));
        await p.stop();
      }
    });

    test('a projector that fails on its start starts again from its checkpoint, keeping its lease', async () => {
      // Its own subjects and no rows: only its checkpoint tells whether it runs.
      const recovering: Projection = { name: 'recovering', stream: 'AUTH_EVENT', filterSubject: 'auth.recovering.>', tables: [], apply: async () => {} };
      const last = (await append(t.bus, 'auth.recovering.r1', createEvent(CounterIncremented, { by: 1 }, { actor }))).seq;
      // Its first read of the checkpoint fails, as when the database is briefly away.
      await db.database.db.execute(sql`alter table projection_checkpoints rename to projection_checkpoints_away`);
      const p = await startProjector(t.bus, db.database, recovering, { instance: 'r', leaseTtlMs: 1000 });
      try {
        await new Promise((r) => setTimeout(r, 100));
        await db.database.db.execute(sql`alter table projection_checkpoints_away rename to projection_checkpoints`);
        const deadline = Date.now() + 10_000;
        while ((await readCheckpoint(db.database, recovering.name)) < last) {
          if (Date.now() > deadline) assert.fail(`no recovery: ${JSON.stringify(await p.lag())}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await p.stop();
      }
    });

    test('a second replica stands by while the first holds the projection', async () => {
      const standby = await startProjector(t.bus, db.database, counterProjection, { instance: 'c', leaseTtlMs: 1000 });
      try {
        const last = await appendMany(5, 54);
        await waitForCheckpoint(db.database, last);
        assert.equal((await standby.lag()).active, false);
        assert.equal((await projectedRows(db.database)).length, 58);
      } finally {
        await standby.stop();
      }
    });
  });
}

describe('a projector killed between commit and ack', () => {
  test('applies nothing twice after it restarts', async () => {
    const kinds = await availableDatabaseKinds();
    for (const kind of kinds) {
      const pgliteDir = await mkdtemp(join(tmpdir(), 'vigil-pglite-'));
      const db: TestDatabase | undefined = kind === 'postgres' ? await createTestDatabase('postgres') : undefined;
      const namespaceBus = await t.connect(`crash-${kind}`);
      try {
        const stream = t.bus.names.stream('AUTH_EVENT');
        await t.bus.jsm.streams.purge(stream, { filter: t.bus.names.subject('auth.proj.>') });
        const last = await appendMany(40, 100);
        const fixture = join(import.meta.dirname, 'fixtures', 'crash-after-commit.ts');
        const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
          env: {
            ...process.env,
            NATS_URL: t.nats.url,
            VIGIL_NAMESPACE: namespaceBus.names.namespace,
            BATCH_SIZE: '10',
            PGLITE_DIR: pgliteDir,
            ...(db?.url ? { DATABASE_URL: db.url } : { DATABASE_URL: '' }),
          },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, s) => resolve(s)));
        assert.equal(signal, 'SIGKILL');
        const database = db?.database ?? (await openDatabase({ logger: testLogger(), dataDir: pgliteDir }));
        try {
          const committed = await projectedRows(database);
          // A batch is what had arrived when the transaction began (group commit), at most BATCH_SIZE.
          assert.ok(committed.length >= 1 && committed.length <= 10, `the first batch was committed before the crash (${committed.length} rows)`);
          // The crashed process never acked: the server would redeliver those ten. None may be applied again.
          const projector = await startProjector(t.bus, database, counterProjection, { instance: 'survivor', batchSize: 10, leaseTtlMs: 1000 });
          try {
            await waitForCheckpoint(database, last);
          } finally {
            await projector.stop();
          }
          const rows = await projectedRows(database);
          assert.equal(rows.length, 40);
          assert.equal(new Set(rows.map((r) => r.seq)).size, 40);
        } finally {
          if (!db) await database.close();
        }
      } finally {
        await db?.close();
        await rm(pgliteDir, { recursive: true, force: true });
      }
    }
  });
});

describe('a projector under a steady trickle of events', () => {
  test('gathers what arrives while a transaction commits into the next one (group commit)', async () => {
    const [kind] = await availableDatabaseKinds();
    const db = await createTestDatabase(kind ?? 'pglite');
    await createCounterTable(db.database);
    const stream = t.bus.names.stream('AUTH_EVENT');
    await t.bus.jsm.streams.purge(stream, { filter: t.bus.names.subject('auth.proj.>') });
    const sizes: number[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let firstApplied: () => void = () => {};
    const firstApply = new Promise<void>((resolve) => (firstApplied = resolve));
    // The first transaction stays open until the test lets it go: everything appended meanwhile arrives one by one.
    const held: Projection = {
      ...counterProjection,
      name: 'test_counter_group',
      async apply(tx, events) {
        sizes.push(events.length);
        if (sizes.length === 1) {
          firstApplied();
          await gate;
        }
        await counterProjection.apply(tx, events);
      },
    };
    const projector = await startProjector(t.bus, db.database, held, { instance: 'g', batchSize: 500, leaseTtlMs: 1000 });
    try {
      await appendMany(1, 1000);
      await firstApply;
      const last = await appendMany(20, 1001);
      const durable = t.bus.names.consumer(projectorNames(defaultReadModelSchema, held.name).consumer);
      for (let i = 0; (await t.bus.jsm.consumers.info(stream, durable)).delivered.stream_seq < last; i++) {
        if (i > 500) throw new Error('the server did not deliver the trickle');
        await new Promise((r) => setTimeout(r, 10));
      }
      release();
      const deadline = Date.now() + 15_000;
      while ((await readCheckpoint(db.database, held.name)) < last) {
        if (Date.now() > deadline) throw new Error(`checkpoint did not reach ${last}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // One event at a time would have been 21 transactions.
      assert.deepEqual(sizes, [1, 20]);
      assert.equal((await projectedRows(db.database)).length, 21);
    } finally {
      release();
      await projector.stop();
      await db.close();
    }
  });
});
