// The read side: devices, readings and series of one tenant, straight from the read models. The tenant is always
// the caller's (query-service.ts), and every statement filters on it. The same SQL runs on partitioned
// PostgreSQL, PGlite and TimescaleDB: no time_bucket, no storage-specific function.
import type { DevicePage, DeviceView, ListDevices, ReadingsPage, ReadingsQuery, Series, SeriesQuery } from '@vigil/devices-contract';
import { DeviceNotFoundError, pageDefaults } from '@vigil/devices-contract';
import { rowsOf, schema, type Database } from '@vigil/store';
import { and, asc, eq, gt, gte, lt, sql, type SQL } from 'drizzle-orm';
import { decodeReadingsCursor, encodeReadingsCursor } from './readings-cursor.ts';
import { telemetryReadings } from './readings-table.ts';
import { seriesRange, timeRange } from './time-buckets.ts';

const { devices, deviceStatus } = schema;

type DeviceRow = typeof devices.$inferSelect;
type StatusRow = typeof deviceStatus.$inferSelect;

/** Items of a reply, as many as `limit` allows and as fit in `budgetBytes` of JSON (a bus message has a maximum size). */
export function fitPage<T>(items: readonly T[], limit: number, budgetBytes: number): { page: T[]; more: boolean } {
  const page: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (page.length >= limit) return { page, more: true };
    bytes += Buffer.byteLength(JSON.stringify(item)) + 1;
    // At least one item, whatever its size: a page that never moves would be worse than a refused reply.
    if (bytes > budgetBytes && page.length > 0) return { page, more: true };
    page.push(item);
  }
  return { page, more: false };
}

function viewOf(d: DeviceRow, s: StatusRow | null): DeviceView {
  return {
    device_id: d.deviceId,
    name: d.name,
    device_type: d.deviceType,
    serial: d.serial,
    ...(d.talq ? { talq: { address: d.talq.address, device_class: d.talq.device_class } } : {}),
    metadata: d.metadata,
    status: d.status,
    registered_at: d.registeredAt.toISOString(),
    credentials: d.credentials.map((c) => ({
      credential_id: c.credential_id,
      kind: c.kind,
      issued_at: c.issued_at,
      ...(c.expires_at ? { expires_at: c.expires_at } : {}),
      ...(c.revoked_at ? { revoked_at: c.revoked_at } : {}),
    })),
    online: s?.online ?? false,
    ...(s?.lastSeenAt ? { last_seen_at: s.lastSeenAt.toISOString() } : {}),
    ...(s?.lastUptimeS !== null && s?.lastUptimeS !== undefined ? { last_uptime_s: s.lastUptimeS } : {}),
  };
}

function selectDevices(database: Database, where: SQL | undefined) {
  return database.db
    .select({ device: devices, status: deviceStatus })
    .from(devices)
    .leftJoin(deviceStatus, and(eq(deviceStatus.tenant, devices.tenant), eq(deviceStatus.deviceId, devices.deviceId)))
    .where(where);
}

/** One device of the tenant; DeviceNotFoundError for an unknown device and for another tenant's alike. */
export async function getDevice(database: Database, tenant: string, deviceId: string): Promise<DeviceView> {
  const [row] = await selectDevices(database, and(eq(devices.tenant, tenant), eq(devices.deviceId, deviceId)));
  if (!row) throw new DeviceNotFoundError(deviceId);
  return viewOf(row.device, row.status);
}

/** A page of the tenant's devices in device id order; `next` is the last id of this page when there are more. */
export async function listDevices(database: Database, tenant: string, query: ListDevices, budgetBytes: number): Promise<DevicePage> {
  const limit = query.limit ?? pageDefaults.devices;
  const rows = await selectDevices(
    database,
    and(eq(devices.tenant, tenant), query.status ? eq(devices.status, query.status) : undefined, query.after ? gt(devices.deviceId, query.after) : undefined),
  )
    .orderBy(asc(devices.deviceId))
    .limit(limit + 1);
  const { page, more } = fitPage(
    rows.map((r) => viewOf(r.device, r.status)),
    limit,
    budgetBytes,
  );
  const last = page.at(-1);
  return { devices: page, ...(more && last ? { next: last.device_id } : {}) };
}

async function requireDevice(database: Database, tenant: string, deviceId: string): Promise<void> {
  const found = await database.db
    .select({ one: sql<number>`1` })
    .from(devices)
    .where(and(eq(devices.tenant, tenant), eq(devices.deviceId, deviceId)))
    .limit(1);
  if (found.length === 0) throw new DeviceNotFoundError(deviceId);
}

/**
 * Raw readings of one device in [from, to), in (measured_at, metric, seq) order, after the cursor if one is given.
 * With a metric the index (tenant, device_id, metric, measured_at, seq) hands rows over in order; without, they are
 * sorted, metric names in byte order ("C" collation) so every database pages them alike.
 */
export async function readReadings(database: Database, tenant: string, query: ReadingsQuery, budgetBytes: number): Promise<ReadingsPage> {
  const { fromMs, toMs } = timeRange(query.from, query.to);
  const limit = query.limit ?? pageDefaults.readings;
  const after = query.after === undefined ? undefined : decodeReadingsCursor(query.after);
  await requireDevice(database, tenant, query.device_id);
  const t = telemetryReadings;
  const afterIso = after ? new Date(after.measuredAt).toISOString() : '';
  const rows = await database.db
    .select({ measuredAt: t.measuredAt, metric: t.metric, value: t.value, seq: t.seq })
    .from(t)
    .where(
      and(
        eq(t.tenant, tenant),
        eq(t.deviceId, query.device_id),
        gte(t.measuredAt, new Date(fromMs)),
        lt(t.measuredAt, new Date(toMs)),
        query.metric === undefined ? undefined : eq(t.metric, query.metric),
        after === undefined
          ? undefined
          : query.metric === undefined
            ? sql`(${t.measuredAt}, ${t.metric} collate "C", ${t.seq}) > (${afterIso}::timestamptz, ${after.metric} collate "C", ${after.seq}::bigint)`
            : sql`(${t.measuredAt}, ${t.seq}) > (${afterIso}::timestamptz, ${after.seq}::bigint)`,
      ),
    )
    .orderBy(...(query.metric === undefined ? [asc(t.measuredAt), sql`${t.metric} collate "C"`, asc(t.seq)] : [asc(t.measuredAt), asc(t.seq)]))
    .limit(limit + 1);
  const keyed = rows.map((r) => ({ reading: { measured_at: r.measuredAt.toISOString(), metric: r.metric, value: r.value }, key: r }));
  const { page, more } = fitPage(
    keyed.map((k) => k.reading),
    limit,
    budgetBytes,
  );
  const last = keyed[page.length - 1]?.key;
  return { readings: page, ...(more && last ? { next: encodeReadingsCursor({ measuredAt: last.measuredAt.getTime(), metric: last.metric, seq: last.seq }) } : {}) };
}

/** avg/min/max/count of one metric per epoch-aligned bucket of `bucket_s` seconds; empty buckets are left out. */
export async function readSeries(database: Database, tenant: string, query: SeriesQuery): Promise<Series> {
  const { fromMs, toMs } = seriesRange(query.from, query.to, query.bucket_s);
  await requireDevice(database, tenant, query.device_id);
  const b = query.bucket_s;
  // extract(epoch) is numeric (exact to the microsecond), so floor() puts a reading on a boundary in the bucket it opens.
  const result = await database.db.execute(sql`
    select (floor(extract(epoch from measured_at) / ${b}::int) * ${b}::int)::float8 as bucket,
           avg(value)::float8 as avg, min(value)::float8 as min, max(value)::float8 as max, count(*)::int as count
    from ${telemetryReadings}
    where tenant = ${tenant} and device_id = ${query.device_id}::uuid and metric = ${query.metric}
      and measured_at >= ${new Date(fromMs).toISOString()}::timestamptz and measured_at < ${new Date(toMs).toISOString()}::timestamptz
    group by 1 order by 1`);
  const buckets = rowsOf(result).map((r) => ({
    start: new Date(Number(r['bucket']) * 1000).toISOString(),
    avg: Number(r['avg']),
    min: Number(r['min']),
    max: Number(r['max']),
    count: Number(r['count']),
  }));
  return { metric: query.metric, bucket_s: b, buckets };
}
