/**
 * What devices send, read strictly: a payload is accepted whole or refused with a reason, never half-read.
 *
 * Telemetry: a JSON object `{"ts"?: <epoch ms | RFC 3339>, "values": {"<metric>": <number>, ...}}`, or the same
 * readings flat (`{"ts"?: ..., "temperature": 21.5}`), which is what most firmware and Fundamentum `states` send.
 * Heartbeat: `{"uptime": <seconds>}` (Fundamentum's format).
 * TALQ attribute, on `talq/<functionId>/<attributeName>`: `{"value": <number | boolean>, "ts"?: ...}`, or the bare value.
 */
export type PayloadReading<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface TelemetryPayload {
  /** When the device measured; undefined when it did not say (the receiver's clock is used). */
  readonly measuredAt: Date | undefined;
  readonly values: Record<string, number>;
}

const metricName = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const maxMetrics = 64;
/** A device clock may run ahead a little; further ahead is a broken clock, refused rather than stored in the future. */
const maxClockSkewMs = 5 * 60 * 1000;
const decoder = new TextDecoder('utf-8', { fatal: true });

function jsonObjectOf(payload: Uint8Array): PayloadReading<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(payload));
  } catch {
    return { ok: false, problem: 'not UTF-8 JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, problem: 'not a JSON object' };
  return { ok: true, value: Object.fromEntries(Object.entries(parsed)) };
}

function timeOf(ts: unknown, now: Date): PayloadReading<Date | undefined> {
  if (ts === undefined) return { ok: true, value: undefined };
  const at = typeof ts === 'number' && Number.isFinite(ts) ? new Date(ts) : typeof ts === 'string' ? new Date(ts) : undefined;
  if (!at || Number.isNaN(at.getTime())) return { ok: false, problem: '"ts" is neither epoch milliseconds nor an RFC 3339 time' };
  if (at.getTime() > now.getTime() + maxClockSkewMs) return { ok: false, problem: '"ts" is in the future' };
  if (at.getUTCFullYear() < 2000) return { ok: false, problem: '"ts" is before 2000' };
  return { ok: true, value: at };
}

function readingsOf(entries: readonly [string, unknown][]): PayloadReading<Record<string, number>> {
  if (entries.length === 0) return { ok: false, problem: 'no readings' };
  if (entries.length > maxMetrics) return { ok: false, problem: `more than ${maxMetrics} readings` };
  const values: Record<string, number> = {};
  for (const [name, value] of entries) {
    if (!metricName.test(name)) return { ok: false, problem: `"${name.slice(0, 64)}" is not a metric name` };
    if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, problem: `"${name}" is not a finite number` };
    values[name] = value;
  }
  return { ok: true, value: values };
}

export function parseTelemetryPayload(payload: Uint8Array, now: Date = new Date()): PayloadReading<TelemetryPayload> {
  const object = jsonObjectOf(payload);
  if (!object.ok) return object;
  const { ts, values, ...flat } = object.value;
  const measuredAt = timeOf(ts, now);
  if (!measuredAt.ok) return measuredAt;
  let entries: [string, unknown][];
  if (values === undefined) entries = Object.entries(flat);
  else if (Object.keys(flat).length > 0) return { ok: false, problem: 'readings both in "values" and beside it' };
  else if (typeof values !== 'object' || values === null || Array.isArray(values)) return { ok: false, problem: '"values" is not an object' };
  else entries = Object.entries(values);
  const readings = readingsOf(entries);
  if (!readings.ok) return readings;
  return { ok: true, value: { measuredAt: measuredAt.value, values: readings.value } };
}

export function parseHeartbeatPayload(payload: Uint8Array): PayloadReading<{ uptimeSeconds: number }> {
  const object = jsonObjectOf(payload);
  if (!object.ok) return object;
  const { uptime, ...rest } = object.value;
  if (Object.keys(rest).length > 0) return { ok: false, problem: 'a heartbeat holds only "uptime"' };
  if (typeof uptime !== 'number' || !Number.isFinite(uptime) || uptime < 0) return { ok: false, problem: '"uptime" is not a number of seconds' };
  return { ok: true, value: { uptimeSeconds: uptime } };
}

export interface TalqAttributePayload {
  /** The reading's metric name: `<functionId>.<attributeName>`, which the TALQ gateway maps to that attribute. */
  readonly metric: string;
  /** Booleans (TALQ event attributes such as `lampFailure`) as 1 and 0, so they are readings like any other. */
  readonly value: number;
  readonly measuredAt: Date | undefined;
}

const talqName = /^[A-Za-z][A-Za-z0-9_-]{0,30}$/;

/** A TALQ attribute a device reports on `talq/<functionId>/<attributeName>`, read as one reading. */
export function parseTalqAttributePayload(path: string, payload: Uint8Array, now: Date = new Date()): PayloadReading<TalqAttributePayload> {
  const [fn = '', attribute = '', ...rest] = path.split('/');
  if (rest.length > 0 || !talqName.test(fn) || !talqName.test(attribute)) return { ok: false, problem: 'a TALQ topic is talq/<functionId>/<attributeName>' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(payload));
  } catch {
    return { ok: false, problem: 'not UTF-8 JSON' };
  }
  let raw: unknown = parsed;
  let ts: unknown;
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const { value, ts: time, ...others } = Object.fromEntries(Object.entries(parsed));
    if (Object.keys(others).length > 0) return { ok: false, problem: 'a TALQ attribute holds only "value" and "ts"' };
    raw = value;
    ts = time;
  }
  const value = typeof raw === 'boolean' ? (raw ? 1 : 0) : typeof raw === 'number' && Number.isFinite(raw) ? raw : undefined;
  if (value === undefined) return { ok: false, problem: '"value" is neither a finite number nor a boolean' };
  const measuredAt = timeOf(ts, now);
  if (!measuredAt.ok) return measuredAt;
  return { ok: true, value: { metric: `${fn}.${attribute}`, value, measuredAt: measuredAt.value } };
}
