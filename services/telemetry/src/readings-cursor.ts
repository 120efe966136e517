import { BadRequestError } from '@vigil/bus';

/**
 * Where a page of readings ended: the key (measured_at, metric, seq) of its last reading. Readings are ordered by
 * that key, which is unique per device (one event holds each metric once, and seq names the event), so the next
 * page starts strictly after it: no reading is skipped or repeated, even among readings of the same instant.
 */
export interface ReadingKey {
  /** Epoch milliseconds: readings are stored to the millisecond, so this is exact. */
  readonly measuredAt: number;
  readonly metric: string;
  readonly seq: number;
}

const version = 'r1';

/** An opaque `next` cursor (base64url): clients pass it back, they need not read it. */
export function encodeReadingsCursor(key: ReadingKey): string {
  return Buffer.from(JSON.stringify([version, key.measuredAt, key.metric, key.seq]), 'utf8').toString('base64url');
}

/** The key a cursor holds; a cursor that is not one of ours is the caller's mistake (400). */
export function decodeReadingsCursor(cursor: string): ReadingKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new BadRequestError('"after" is not a cursor returned as "next"');
  }
  if (Array.isArray(parsed) && parsed.length === 4) {
    const [v, measuredAt, metric, seq]: unknown[] = parsed;
    if (v === version && typeof measuredAt === 'number' && Number.isSafeInteger(measuredAt) && typeof metric === 'string' && metric.length <= 64 && typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) {
      return { measuredAt, metric, seq };
    }
  }
  throw new BadRequestError('"after" is not a cursor returned as "next"');
}
