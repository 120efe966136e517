import { bigint, doublePrecision, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { readingsTable } from './partition-plan.ts';

/**
 * One row per metric of each `device.telemetry.reported`. Declared here, not in @vigil/store's schema: the table is
 * partitioned by day (or a TimescaleDB hypertable), which a Drizzle migration cannot express, so this service owns
 * its DDL (telemetry-storage.ts) and Drizzle only reads and writes it. No key: the projector's checkpoint already
 * writes each event once, and (measured_at, metric, seq) is unique per device by construction.
 */
export const telemetryReadings = pgTable(readingsTable, {
  tenant: text('tenant').notNull(),
  deviceId: uuid('device_id').notNull(),
  metric: text('metric').notNull(),
  /** To the millisecond, like JavaScript's Date: a keyset cursor then round-trips exactly. */
  measuredAt: timestamp('measured_at', { withTimezone: true, precision: 3 }).notNull(),
  value: doublePrecision('value').notNull(),
  /** The DEVICE_TELEMETRY sequence of the event the reading came in. */
  seq: bigint('seq', { mode: 'number' }).notNull(),
});
