/** Bounds of an exponential backoff, in milliseconds. */
export interface Backoff {
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * The wait before retry number `attempt` (1 for the first retry): the ceiling doubles from `minMs` up to `maxMs`, and
 * the wait is drawn in its upper half ("equal jitter"). The jitter keeps many clients that lost the same server from
 * coming back in step; the lower bound keeps the waits growing, so a server that stays down is asked less and less.
 * `random` is in [0, 1).
 */
export function backoffDelay(attempt: number, bounds: Backoff, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const ceiling = Math.min(bounds.maxMs, bounds.minMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
