import type { Bus } from '@vigil/bus';
import { ApiKeyLastUse, apiKeyLastUseIntervalMs } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';

/**
 * Records when API keys are used without a write per request: in memory on every use, and into the last-use bucket
 * (see `ApiKeyLastUse` for why a bucket and not events) at most once a minute per key, off the request's path.
 */
export class LastUseRecorder {
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #recorded = new Map<string, number>();
  #store: Promise<ApiKeyLastUse> | undefined;

  constructor(bus: Bus, logger: Logger) {
    this.#bus = bus;
    this.#logger = logger;
  }

  /** Called on each authenticated request of a key; returns whether this use is written (tests). */
  touch(tenant: string, keyId: string, now = Date.now()): boolean {
    const last = this.#recorded.get(keyId);
    if (last !== undefined && now - last < apiKeyLastUseIntervalMs) return false;
    this.#recorded.set(keyId, now);
    void this.#write(tenant, keyId, now);
    return true;
  }

  async #write(tenant: string, keyId: string, now: number): Promise<void> {
    // Twice at most: the bucket may be being made by another process at this moment (its creation then fails here).
    for (let attempt = 1; ; attempt++) {
      try {
        this.#store ??= ApiKeyLastUse.open(this.#bus);
        await (await this.#store).record(tenant, keyId, new Date(now));
        return;
      } catch (err) {
        // Opened again next time: the bucket may not exist yet, or NATS may be away for a moment.
        this.#store = undefined;
        if (attempt < 2) continue;
        this.#recorded.delete(keyId);
        this.#logger.warn({ err, key_id: keyId }, 'could not record the last use of an API key');
        return;
      }
    }
  }

  /** Forgets keys not used for a minute: their next use is written again anyway. */
  sweep(now = Date.now()): void {
    for (const [id, at] of this.#recorded) if (now - at >= apiKeyLastUseIntervalMs) this.#recorded.delete(id);
  }
}
