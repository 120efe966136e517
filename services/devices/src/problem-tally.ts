import type { Logger } from '@vigil/log';

/**
 * Counts problems by kind and logs them at most once per period: a flood of bad messages makes one warning line per
 * period, not one per message, and none is missing from the counts. A sample (never a payload) goes with each line.
 */
export class ProblemTally<K extends string> {
  readonly #logger: Logger;
  readonly #message: string;
  readonly #everyMs: number;
  readonly #totals = new Map<K, number>();
  #unlogged = new Map<K, number>();
  #sample: Record<string, unknown> = {};
  #lastLogAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, message: string, kinds: readonly K[], everyMs = 60_000) {
    this.#logger = logger;
    this.#message = message;
    this.#everyMs = everyMs;
    for (const k of kinds) this.#totals.set(k, 0);
  }

  note(kind: K, sample: Record<string, unknown>): void {
    this.#totals.set(kind, (this.#totals.get(kind) ?? 0) + 1);
    this.#unlogged.set(kind, (this.#unlogged.get(kind) ?? 0) + 1);
    this.#sample = { kind, ...sample };
    const wait = this.#lastLogAt + this.#everyMs - Date.now();
    if (wait <= 0) this.#log();
    else this.#timer ??= setTimeout(() => this.#log(), wait).unref();
  }

  totals(): Record<string, number> {
    return Object.fromEntries(this.#totals);
  }

  /** Logs what is still unlogged (at shutdown) and stops the timer. */
  close(): void {
    if (this.#unlogged.size > 0) this.#log();
    clearTimeout(this.#timer);
  }

  #log(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastLogAt = Date.now();
    if (this.#unlogged.size === 0) return;
    this.#logger.warn({ problems: Object.fromEntries(this.#unlogged), sample: this.#sample }, this.#message);
    this.#unlogged = new Map();
  }
}
