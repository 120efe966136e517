import { BadRequestError } from '@vigil/bus';

/**
 * Series buckets are aligned to the Unix epoch: a bucket of `bucket_s` seconds starts at a whole multiple of
 * `bucket_s` since 1970-01-01T00:00:00Z. The SQL (`floor(epoch / bucket_s) * bucket_s`) and this arithmetic agree
 * exactly, on partitioned PostgreSQL, PGlite and TimescaleDB alike, because readings are stored to the millisecond.
 */
export function bucketStart(atMs: number, bucketS: number): number {
  const width = bucketS * 1000;
  return Math.floor(atMs / width) * width;
}

/** How many buckets [fromMs, toMs) touches (the first and last may be partly outside the range). */
export function bucketCount(fromMs: number, toMs: number, bucketS: number): number {
  if (toMs <= fromMs) return 0;
  return (bucketStart(toMs - 1, bucketS) - bucketStart(fromMs, bucketS)) / (bucketS * 1000) + 1;
}

/** Most buckets one series answer may span: keeps the reply well under the bus's message size. */
export const maxSeriesBuckets = 5000;

/** A query's [from, to) as epoch ms (to the millisecond, as readings are stored); an empty or inverted range is refused. */
export function timeRange(from: string, to: string): { fromMs: number; toMs: number } {
  const fromMs = Date.parse(from);
  const toMs = Date.parse(to);
  if (Number.isNaN(fromMs) || Number.isNaN(toMs)) throw new BadRequestError('"from" and "to" must be RFC 3339 times');
  if (toMs <= fromMs) throw new BadRequestError('"to" must be after "from"');
  return { fromMs, toMs };
}

/** The range and bucket of a series query, refused when it would span more than maxSeriesBuckets. */
export function seriesRange(from: string, to: string, bucketS: number): { fromMs: number; toMs: number } {
  const range = timeRange(from, to);
  const count = bucketCount(range.fromMs, range.toMs, bucketS);
  if (count > maxSeriesBuckets) throw new BadRequestError(`the range spans ${count} buckets of ${bucketS} s; at most ${maxSeriesBuckets} per query (widen bucket_s or narrow the range)`);
  return range;
}
