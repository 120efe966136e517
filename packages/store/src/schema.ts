import { bigint, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Where each projection has got to: the last stream sequence applied, written in the same transaction as the
 * rows it produced. This is what makes a projection exactly-once in effect.
 */
export const projectionCheckpoints = pgTable('projection_checkpoints', {
  projection: text('projection').primaryKey(),
  stream: text('stream').notNull(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
