/** The answer to one request: go ahead, or wait this many whole seconds (the Retry-After). */
export type RateVerdict = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  last: number;
}

/**
 * Each principal's requests per minute at this edge (an API key's own limit, a signed-in user's the deployment's), as
 * a token bucket per principal: `limit` requests at once, then one more every 60/limit seconds. Kept in memory like
 * everything an edge knows, so a budget is per edge instance: N edges behind a load balancer allow up to N times the
 * limit (a shared counter would cost a bus round trip on every request, which authenticating locally avoids). Not
 * @fastify/rate-limit: its key generator runs before the principal is known, and its store per route would split a
 * principal's one budget.
 */
export class PrincipalRateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  /** One request of `principal` (e.g. `api_key:<id>`, `user:<id>`), allowed `perMinute`. */
  take(principal: string, perMinute: number, now = Date.now()): RateVerdict {
    const perMs = perMinute / 60_000;
    const bucket = this.#buckets.get(principal) ?? { tokens: perMinute, last: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.last) * perMs);
    bucket.last = now;
    this.#buckets.set(principal, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
  }

  /** Forgets buckets that have refilled (idle for a minute): they hold nothing a new bucket would not. */
  sweep(now = Date.now()): void {
    for (const [id, bucket] of this.#buckets) if (now - bucket.last >= 60_000) this.#buckets.delete(id);
  }

  size(): number {
    return this.#buckets.size;
  }
}
