// Which daily partitions of telemetry_readings should exist, and which have expired: pure date arithmetic in UTC,
// so every replica, PostgreSQL and PGlite agree on the same day boundaries whatever their TimeZone.

const dayMs = 24 * 60 * 60 * 1000;

/** The parent table; its daily partitions are `telemetry_readings_pYYYYMMDD`. */
export const readingsTable = 'telemetry_readings';
const partitionPattern = /^telemetry_readings_p(\d{4})(\d{2})(\d{2})$/;

/** Midnight UTC of the day holding `at`, in epoch milliseconds. */
export function dayOf(at: number): number {
  return Math.floor(at / dayMs) * dayMs;
}

export function partitionName(day: number): string {
  const d = new Date(dayOf(day));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${readingsTable}_p${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}

/** The day a partition of ours holds, or undefined for any other table (never dropped by retention). */
export function partitionDay(name: string): number | undefined {
  const m = partitionPattern.exec(name);
  if (!m) return undefined;
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return partitionName(day) === name ? day : undefined;
}

/** A partition's range, [from, to), as timestamptz literals with an explicit UTC offset. */
export function partitionBounds(day: number): { from: string; to: string } {
  const from = dayOf(day);
  return { from: new Date(from).toISOString(), to: new Date(from + dayMs).toISOString() };
}

export interface RetentionPolicy {
  /** Whole days of readings kept before today (UTC). */
  readonly retentionDays: number;
  /** Days after today whose partitions are made in advance, and the furthest a reading may lie ahead. */
  readonly aheadDays: number;
}

/**
 * The readings kept at `now`: from midnight UTC `retentionDays` days ago, up to the end of the last day made
 * ahead. A reading outside it is not stored — older ones would be dropped by the next retention pass anyway, and a
 * clock years ahead would otherwise make a partition per bogus day.
 */
export function keptWindow(now: number, policy: RetentionPolicy): { from: number; until: number } {
  const today = dayOf(now);
  return { from: today - policy.retentionDays * dayMs, until: today + (policy.aheadDays + 1) * dayMs };
}

/** Today and the days ahead: the partitions a maintenance pass makes sure of. */
export function daysAhead(now: number, policy: RetentionPolicy): number[] {
  const today = dayOf(now);
  return Array.from({ length: policy.aheadDays + 1 }, (_, i) => today + i * dayMs);
}

/** Partitions (by name) whose whole day lies before the kept window. */
export function expiredPartitions(names: readonly string[], now: number, policy: RetentionPolicy): string[] {
  const { from } = keptWindow(now, policy);
  return names.filter((name) => {
    const day = partitionDay(name);
    return day !== undefined && day + dayMs <= from;
  });
}

/** The distinct days of some instants, in order. */
export function distinctDays(instants: Iterable<number>): number[] {
  const days = new Set<number>();
  for (const at of instants) days.add(dayOf(at));
  return [...days].sort((a, b) => a - b);
}
