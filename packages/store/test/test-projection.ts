import { append, createEvent, type Bus, type Delivery } from '@vigil/bus';
import { CounterIncremented } from '../../bus/test/test-events.ts';
import { sql } from 'drizzle-orm';
import { bigint, integer, pgTable, serial, text } from 'drizzle-orm/pg-core';
import type { Database } from '../src/index.ts';
import { insertMany, type Projection } from '../src/index.ts';

// No unique key on seq on purpose: an event applied twice shows up as a second row, not as an error.
export const counterRows = pgTable('test_counter_rows', {
  id: serial('id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  subject: text('subject').notNull(),
  by: integer('by').notNull(),
});

export async function createCounterTable(database: Database): Promise<void> {
  await database.db.execute(
    sql`create table if not exists test_counter_rows (id serial primary key, seq bigint not null, subject text not null, by integer not null)`,
  );
}

function amountOf(d: Delivery): number {
  const data = d.event.data;
  return typeof data === 'object' && data !== null && 'by' in data && typeof data.by === 'number' ? data.by : 0;
}

export const counterProjection: Projection = {
  name: 'test_counter',
  stream: 'AUTH_EVENT',
  filterSubject: 'auth.proj.>',
  tables: [counterRows],
  async apply(tx, events) {
    await insertMany(tx, counterRows, events.map((d) => ({ seq: d.seq, subject: d.subject, by: amountOf(d) })));
  },
};

export async function projectedRows(database: Database): Promise<{ seq: number; subject: string; by: number }[]> {
  return database.db.select({ seq: counterRows.seq, subject: counterRows.subject, by: counterRows.by }).from(counterRows).orderBy(counterRows.seq, counterRows.id);
}

/**
 * Appends `count` counter events, by = from, from + 1, …, one at a time on a few subjects the counter projection
 * follows; answers the last one's stream sequence.
 */
export async function appendCounterEvents(bus: Bus, count: number, from: number): Promise<number> {
  let last = 0;
  for (let by = from; by < from + count; by++) {
    last = (await append(bus, `auth.proj.counter.c${by % 5}`, createEvent(CounterIncremented, { by }, { actor: { kind: 'system', id: 'test' } }))).seq;
  }
  return last;
}
