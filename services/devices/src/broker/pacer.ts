/**
 * A rate with a burst, as the generic cell rate algorithm keeps it: one number (when the next message is due), no
 * timer and no queue. `delay` says how long a message arriving `now` must wait to keep to the rate, or that it
 * would have to wait longer than allowed. Pure: the caller passes the clock.
 */
export class Pacer {
  readonly #intervalMs: number;
  readonly #toleranceMs: number;
  /** When the next message is due if the sender kept exactly to the rate (the "theoretical arrival time"). */
  #dueAt = Number.NEGATIVE_INFINITY;

  /** `perSecond` 0 or less: no limit. `burst`: how many may go at once after a quiet spell (at least 1). */
  constructor(perSecond: number, burst: number) {
    this.#intervalMs = perSecond > 0 ? 1000 / perSecond : 0;
    this.#toleranceMs = (Math.max(1, burst) - 1) * this.#intervalMs;
  }

  /** Milliseconds to wait (0: go now), or undefined when that would be more than `maxDelayMs` (nothing is counted). */
  delay(now: number, maxDelayMs = 0): number | undefined {
    if (this.#intervalMs === 0) return 0;
    const due = Math.max(this.#dueAt, now);
    const wait = Math.max(0, due - this.#toleranceMs - now);
    if (wait > maxDelayMs) return undefined;
    this.#dueAt = due + this.#intervalMs;
    return wait;
  }
}

/**
 * Reports allowed per key (a claimed device id, a device) and in total, so that neither one noisy client nor many
 * different ones can turn refusals into a flood of audit records. What it refuses is only counted by the caller.
 */
export class ReportBudget {
  readonly #perKey = new Map<string, Pacer>();
  readonly #total: Pacer;
  readonly #keyRate: number;
  readonly #keyBurst: number;

  constructor(options: { readonly perKeyPerSecond: number; readonly perKeyBurst: number; readonly totalPerSecond: number; readonly totalBurst: number }) {
    this.#keyRate = options.perKeyPerSecond;
    this.#keyBurst = options.perKeyBurst;
    this.#total = new Pacer(options.totalPerSecond, options.totalBurst);
  }

  allow(key: string, now: number): boolean {
    let pacer = this.#perKey.get(key);
    if (!pacer) {
      // Keys are chosen by clients: the map is bounded by forgetting everyone at once, which at worst lets a
      // key report a little early.
      if (this.#perKey.size >= 10_000) this.#perKey.clear();
      pacer = new Pacer(this.#keyRate, this.#keyBurst);
      this.#perKey.set(key, pacer);
    }
    // The key first: a key over its own budget must not spend the total that other keys share.
    if (pacer.delay(now) === undefined) return false;
    return this.#total.delay(now) !== undefined;
  }
}
