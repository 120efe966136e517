// The telemetry service's read models: devices (from DEVICE_REGISTRY), and readings with device status (from
// DEVICE_TELEMETRY). Each folds its batch in memory with the pure evolve functions, then writes it with a few
// set-based statements inside the projector's transaction, the checkpoint's too.
import { isEventOf, type Delivery } from '@vigil/bus';
import { TelemetryReported, StreamName } from '@vigil/schemas';
import { insertMany, schema, type Database, type Projection, type Tx } from '@vigil/store';
import { sql } from 'drizzle-orm';
import { evolveDevice, registrySubjectOf, type DeviceRecord } from './device-record.ts';
import { evolveStatus, neverSeen, telemetrySubjectOf, type DeviceStatus } from './device-status.ts';
import { keptWindow, type RetentionPolicy } from './partition-plan.ts';
import { telemetryReadings } from './readings-table.ts';
import { ensurePartitions, prepareTelemetryStorage } from './telemetry-storage.ts';

const { devices, deviceStatus } = schema;

const keyOf = (tenant: string, deviceId: string) => `${tenant}/${deviceId}`;

/** `(tenant, device_id) in (...)` for a set of keys, as one JSON parameter however many there are. */
function keyFilter(keys: readonly { tenant: string; deviceId: string }[]) {
  const json = JSON.stringify(keys.map((k) => ({ tenant: k.tenant, device_id: k.deviceId })));
  return sql`(tenant, device_id) in (select k.tenant, k.device_id from json_to_recordset(${json}::json) as k(tenant text, device_id uuid))`;
}

// ---------------------------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------------------------

type DeviceRow = typeof devices.$inferSelect;

function recordOfRow(row: DeviceRow): DeviceRecord {
  return {
    tenant: row.tenant,
    deviceId: row.deviceId,
    name: row.name,
    deviceType: row.deviceType,
    serial: row.serial,
    talq: row.talq,
    metadata: row.metadata,
    status: row.status,
    registeredAt: row.registeredAt.toISOString(),
    credentials: row.credentials,
    lastSeq: row.lastSeq,
  };
}

function rowOfRecord(r: DeviceRecord): typeof devices.$inferInsert {
  return { ...r, registeredAt: new Date(r.registeredAt), credentials: [...r.credentials] };
}

/** Registered devices with their credentials' lifecycle (never a hash), one row per device of a tenant. */
export const devicesProjection: Projection = {
  name: 'devices',
  stream: StreamName.DeviceRegistry,
  tables: [devices],
  async apply(tx, events) {
    const touched = new Map<string, { tenant: string; deviceId: string; events: Delivery[] }>();
    for (const d of events) {
      const at = registrySubjectOf(d.subject);
      if (!at) continue;
      const key = keyOf(at.tenant, at.deviceId);
      const entry = touched.get(key) ?? { ...at, events: [] };
      entry.events.push(d);
      touched.set(key, entry);
    }
    if (touched.size === 0) return;
    const existing = await tx.select().from(devices).where(keyFilter([...touched.values()]));
    const records = new Map(existing.map((row) => [keyOf(row.tenant, row.deviceId), recordOfRow(row)]));
    const changed: DeviceRecord[] = [];
    for (const [key, entry] of touched) {
      const before = records.get(key);
      let record = before;
      for (const d of entry.events) record = evolveDevice(record, d.event, { tenant: entry.tenant, deviceId: entry.deviceId, seq: d.seq });
      if (record && record !== before) changed.push(record);
    }
    if (changed.length === 0) return;
    await tx
      .insert(devices)
      .values(changed.map(rowOfRecord))
      .onConflictDoUpdate({
        target: [devices.tenant, devices.deviceId],
        set: {
          name: sql`excluded.name`,
          deviceType: sql`excluded.device_type`,
          serial: sql`excluded.serial`,
          talq: sql`excluded.talq`,
          metadata: sql`excluded.metadata`,
          status: sql`excluded.status`,
          registeredAt: sql`excluded.registered_at`,
          credentials: sql`excluded.credentials`,
          lastSeq: sql`excluded.last_seq`,
        },
      });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Readings and device status
// ---------------------------------------------------------------------------------------------------------------

export interface TelemetryProjectionOptions {
  readonly policy: RetentionPolicy;
  /** The clock the kept window is read from (tests move it). */
  readonly now?: () => number;
  /** Called with readings not stored because they lie outside the kept window (metrics). */
  readonly onOutOfWindow?: (count: number) => void;
}

type ReadingRow = typeof telemetryReadings.$inferInsert;

async function readStatuses(tx: Tx, keys: readonly { tenant: string; deviceId: string }[]): Promise<Map<string, DeviceStatus>> {
  const rows = await tx.select().from(deviceStatus).where(keyFilter(keys));
  return new Map(
    rows.map((r) => [
      keyOf(r.tenant, r.deviceId),
      { online: r.online, session: r.session, lastSeenAt: r.lastSeenAt ? r.lastSeenAt.getTime() : null, lastUptimeS: r.lastUptimeS },
    ]),
  );
}

/** One statement for the whole batch: the statuses were folded from the rows read in this same transaction. */
async function writeStatuses(tx: Tx, statuses: ReadonlyMap<string, { tenant: string; deviceId: string; status: DeviceStatus }>): Promise<void> {
  if (statuses.size === 0) return;
  const json = JSON.stringify(
    [...statuses.values()].map(({ tenant, deviceId, status }) => ({
      tenant,
      device_id: deviceId,
      online: status.online,
      session: status.session,
      last_seen_at: status.lastSeenAt === null ? null : new Date(status.lastSeenAt).toISOString(),
      last_uptime_s: status.lastUptimeS,
    })),
  );
  await tx.execute(sql`insert into ${deviceStatus} (tenant, device_id, online, session, last_seen_at, last_uptime_s)
    select tenant, device_id, online, session, last_seen_at, last_uptime_s
    from json_to_recordset(${json}::json) as x(tenant text, device_id uuid, online boolean, session text, last_seen_at timestamptz, last_uptime_s double precision)
    on conflict (tenant, device_id) do update set online = excluded.online, session = excluded.session,
      last_seen_at = excluded.last_seen_at, last_uptime_s = excluded.last_uptime_s`);
}

/**
 * Readings (one row per metric of each `device.telemetry.reported`, one multi-row insert per batch, partitions made
 * first for any day the batch needs) and each device's status. Readings outside the kept window are not stored:
 * older ones would go with the next retention pass, and a clock far ahead would make a partition per bogus day.
 */
export function createTelemetryProjection(options: TelemetryProjectionOptions): Projection {
  const now = options.now ?? Date.now;
  return {
    name: 'telemetry',
    stream: StreamName.DeviceTelemetry,
    tables: [telemetryReadings, deviceStatus],
    async prepare(database: Database) {
      await prepareTelemetryStorage(database);
    },
    async apply(tx, events) {
      const window = keptWindow(now(), options.policy);
      const readings: ReadingRow[] = [];
      const instants: number[] = [];
      let outside = 0;
      const touched = new Map<string, { tenant: string; deviceId: string; events: { d: Delivery; channel: string }[] }>();
      for (const d of events) {
        const at = telemetrySubjectOf(d.subject);
        if (!at) continue;
        const key = keyOf(at.tenant, at.deviceId);
        const entry = touched.get(key) ?? { tenant: at.tenant, deviceId: at.deviceId, events: [] };
        entry.events.push({ d, channel: at.channel });
        touched.set(key, entry);
        if (!isEventOf([TelemetryReported], d.event)) continue;
        // Stored to the millisecond (what a JavaScript Date holds), so keyset cursors round-trip exactly.
        const measuredAt = Date.parse(d.event.data.measured_at);
        if (!(measuredAt >= window.from && measuredAt < window.until)) {
          outside += Object.keys(d.event.data.values).length;
          continue;
        }
        const when = new Date(measuredAt);
        for (const [metric, value] of Object.entries(d.event.data.values)) {
          if (!Number.isFinite(value)) continue;
          readings.push({ tenant: at.tenant, deviceId: at.deviceId, metric, measuredAt: when, value, seq: d.seq });
        }
        instants.push(measuredAt);
      }
      if (outside > 0) options.onOutOfWindow?.(outside);
      if (readings.length > 0) {
        await ensurePartitions(tx, instants);
        await insertMany(tx, telemetryReadings, readings);
      }
      if (touched.size === 0) return;
      const current = await readStatuses(tx, [...touched.values()]);
      const next = new Map<string, { tenant: string; deviceId: string; status: DeviceStatus }>();
      for (const [key, entry] of touched) {
        const before = current.get(key) ?? neverSeen;
        let status = before;
        for (const { d, channel } of entry.events) status = evolveStatus(status, d.event, channel);
        if (status !== before) next.set(key, { tenant: entry.tenant, deviceId: entry.deviceId, status });
      }
      await writeStatuses(tx, next);
    },
  };
}
