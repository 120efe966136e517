// Rebuilding a projection in bulk (one transaction, COPY): the rows the projector writes, the checkpoint with them,
// the indexes put back as they were; nothing changed when it fails, and the projector taking over; COPY text that
// reads back as the values it was made of.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, createEvent, type Delivery } from '@vigil/bus';
import { availableDatabaseKinds, createTestDatabase, startTestBus, type TestBus, type TestDatabase } from '@vigil/testkit';
import { asc, sql } from 'drizzle-orm';
import { bigint, boolean, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { copyEncoder, insertMany, readCheckpoint, rebuildProjection, rowBulkRebuild, rowsOf, startProjector, type Database, type Projection } from '../src/index.ts';
import { CounterIncremented, testRegistry } from '../../bus/test/test-events.ts';

const actor = { kind: 'system', id: 'test' } as const;

const bulkRows = pgTable('test_bulk_rows', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  subject: text('subject').notNull(),
  by: integer('by').notNull(),
  note: text('note'),
  detail: jsonb('detail').notNull(),
  at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
});

// What COPY's text format must escape, and what it must not take for its own (`\N` is null only unquoted).
const notes = [null, 'plain', 'tab\there', 'line\nbreak', 'carriage\rreturn', 'back\\slash', '\\N', '', 'quote " and \'', 'é ü 😀 €'];

function rowOf(d: Delivery): typeof bulkRows.$inferInsert {
  const data = d.event.data;
  const by = typeof data === 'object' && data !== null && 'by' in data && typeof data.by === 'number' ? data.by : 0;
  const note = notes[by % notes.length] ?? null;
  return { seq: d.seq, subject: d.subject, by, note, detail: { by, note, nested: { list: [by, note], quote: '"\\' } }, at: new Date(d.event.at) };
}

/** A projection of counter events into test_bulk_rows, with two secondary indexes (one partial) to drop and put back. */
function bulkProjection(bulk?: (events: readonly Delivery[]) => readonly (typeof bulkRows.$inferInsert)[], onPrepare?: (database: Database) => Promise<void>): Projection {
  return {
    name: 'test_bulk',
    stream: 'AUTH_EVENT',
    filterSubject: 'auth.bulk.>',
    tables: [bulkRows],
    async prepare(database) {
      await database.db.execute(sql`create table if not exists test_bulk_rows (seq bigint primary key, subject text not null, by integer not null, note text, detail jsonb not null, at timestamptz(3) not null)`);
      await database.db.execute(sql`create index if not exists test_bulk_rows_by on test_bulk_rows (by)`);
      await database.db.execute(sql`create index if not exists test_bulk_rows_subject_at on test_bulk_rows (subject, at desc) where by > 3`);
      await onPrepare?.(database);
    },
    async apply(tx, events) {
      await insertMany(tx, bulkRows, events.map(rowOf));
    },
    ...(bulk ? { bulkRebuild: rowBulkRebuild(bulkRows, () => bulk) } : {}),
  };
}

async function rowsIn(database: Database) {
  return database.db.select().from(bulkRows).orderBy(asc(bulkRows.seq));
}

async function indexesOf(database: Database): Promise<string[]> {
  const rows = rowsOf(await database.db.execute(sql`select indexdef from pg_indexes where tablename = 'test_bulk_rows' order by indexname`));
  return rows.map((r) => String(r['indexdef']));
}

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let t: TestBus;
before(async () => {
  t = await startTestBus({ registry: testRegistry });
});
after(async () => {
  await t.close();
});

for (const kind of await availableDatabaseKinds()) {
  describe(`bulk rebuild on ${kind}`, () => {
    let db: TestDatabase;
    let last = 0;
    let projected: Awaited<ReturnType<typeof rowsIn>> = [];
    let indexes: string[] = [];

    before(async () => {
      db = await createTestDatabase(kind);
      await t.bus.jsm.streams.purge(t.bus.names.stream('AUTH_EVENT'), { filter: t.bus.names.subject('auth.bulk.>') });
      for (let i = 1; i <= 120; i++) {
        last = (await append(t.bus, `auth.bulk.c${i % 5}`, createEvent(CounterIncremented, { by: i }, { actor }))).seq;
        // A message that fails validation, which the projector terminates and a rebuild steps over.
        if (i === 60) await t.bus.js.publish(t.bus.names.subject('auth.bulk.junk'), new TextEncoder().encode('{"not":"an event"}'));
      }
      // The reference: what the projector itself writes, event by event.
      const projector = await startProjector(t.bus, db.database, bulkProjection(), { instance: `live-${kind}`, batchSize: 16 });
      await until(async () => (await readCheckpoint(db.database, 'test_bulk')) >= last);
      await projector.stop();
      projected = await rowsIn(db.database);
      indexes = await indexesOf(db.database);
    });
    after(async () => {
      await db.close();
    });

    test('writes the rows the projector writes, with the checkpoint, and puts the indexes back as they were', async () => {
      assert.equal(projected.length, 120);
      const audit = t.bus.names.stream('AUDIT');
      const reports = (await t.bus.jsm.streams.info(audit)).state.messages;
      const progress: number[] = [];
      const result = await rebuildProjection(t.bus, db.database, bulkProjection((events) => events.map(rowOf)), {
        instance: `bulk-${kind}`,
        batchSize: 7,
        onProgress: (seq, target) => progress.push(seq, target),
      });
      assert.equal(result.checkpoint, last);
      assert.equal(await readCheckpoint(db.database, 'test_bulk'), last);
      assert.deepEqual(await rowsIn(db.database), projected);
      assert.deepEqual(await indexesOf(db.database), indexes);
      assert.equal(progress.at(-2), last);
      assert.equal(progress.at(-1), last);
      assert.equal((await t.bus.jsm.streams.info(audit)).state.messages, reports, 'a message already reported is not reported again');
    });

    test('a bulk rebuild that fails changes nothing, and the projector rebuilds instead', async () => {
      let built = 0;
      let seenBeforeTakeover: { rows: number; checkpoint: number; indexes: string[] } | undefined;
      let prepared = 0;
      const failing = bulkProjection(
        (events) => {
          built += events.length;
          if (built > 50) throw new Error('cannot build this row');
          return events.map(rowOf);
        },
        // prepare runs first for the bulk rebuild, then again when the projector takes over (resetProjection),
        // after the bulk transaction rolled back and before the tables are emptied: what the failure left.
        async (database) => {
          if (++prepared !== 2) return;
          seenBeforeTakeover = { rows: (await rowsIn(database)).length, checkpoint: await readCheckpoint(database, 'test_bulk'), indexes: await indexesOf(database) };
        },
      );
      const result = await rebuildProjection(t.bus, db.database, failing, { instance: `failing-${kind}`, batchSize: 10 });
      assert.ok(built > 50, 'the bulk rebuild ran and failed');
      assert.deepEqual(seenBeforeTakeover, { rows: 120, checkpoint: last, indexes });
      assert.equal(result.checkpoint, last);
      assert.deepEqual(await rowsIn(db.database), projected);
      assert.deepEqual(await indexesOf(db.database), indexes);
    });

    test('a row the unique constraints of the table refuse fails the bulk rebuild, and the projector rebuilds instead', async () => {
      // Primary keys are dropped for the COPY and created again after it: that is where a duplicate is found.
      let sent = false;
      const duplicating = bulkProjection((events) => {
        const rows = events.map(rowOf);
        const first = rows[0];
        if (sent || !first) return rows;
        sent = true;
        return [first, ...rows];
      });
      const result = await rebuildProjection(t.bus, db.database, duplicating, { instance: `duplicating-${kind}` });
      assert.ok(sent);
      assert.equal(result.checkpoint, last);
      assert.deepEqual(await rowsIn(db.database), projected);
      assert.deepEqual(await indexesOf(db.database), indexes);
    });

    test('a stream with nothing under the filter rebuilds to an empty table', async () => {
      const empty = { ...bulkProjection((events) => events.map(rowOf)), name: 'test_bulk_empty', filterSubject: 'auth.nothing.>' };
      const result = await rebuildProjection(t.bus, db.database, empty, { instance: `empty-${kind}` });
      assert.equal(result.checkpoint, 0);
      assert.deepEqual(await rowsIn(db.database), []);
      assert.deepEqual(await indexesOf(db.database), indexes);
      // Back to the rows the other tests expect.
      await rebuildProjection(t.bus, db.database, bulkProjection((events) => events.map(rowOf)), { instance: `bulk-${kind}` });
    });

    test('COPY text reads back as the values it was made of', async () => {
      const values = pgTable('test_copy_values', {
        id: integer('id').primaryKey(),
        label: text('label'),
        flag: boolean('flag'),
        amount: bigint('amount', { mode: 'number' }),
        at: timestamp('at', { withTimezone: true, precision: 3 }),
        doc: jsonb('doc'),
      });
      await db.database.db.execute(sql`create table test_copy_values (id integer primary key, label text, flag boolean, amount bigint, at timestamptz(3), doc jsonb)`);
      const rows = notes.map((label, i) => ({
        id: i,
        label,
        flag: i % 3 === 0 ? null : i % 2 === 0,
        amount: i % 4 === 0 ? null : (i - 5) * 1_000_000_007,
        at: i % 5 === 0 ? null : new Date(Date.UTC(2026, 10, 22, 10, 0, i, i * 7)),
        doc: i % 6 === 0 ? null : { label, i, list: [label, null, true, 1.5], escaped: 'a\tb\nc\\d"e' },
      }));
      const encoder = copyEncoder(values, rows[1] ?? assert.fail());
      assert.deepEqual(encoder.columns, ['id', 'label', 'flag', 'amount', 'at', 'doc']);
      await db.database.bulkTransaction(async (session) => {
        await session.copyIn(
          'test_copy_values',
          encoder.columns,
          (async function* () {
            yield Buffer.from(encoder.encode(rows.slice(0, 4)));
            yield Buffer.from(encoder.encode(rows.slice(4)));
          })(),
        );
      });
      assert.deepEqual(await db.database.db.select().from(values).orderBy(asc(values.id)), rows);
    });
  });
}
