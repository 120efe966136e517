import type { Bus, FollowedEvent } from '@vigil/bus';
import { digestsEqual, sha256Hex } from '@vigil/crypto';
import { apiKeyEventsFilter, apiKeyIdOf } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import { ApiKeyCreated, ApiKeyRevoked } from '@vigil/schemas';
import { EdgeFeed } from './edge-feed.ts';
import type { ApiKeyPrincipal } from './principal.ts';

export interface ApiKeyDirectoryOptions {
  readonly bus: Bus;
  readonly logger: Logger;
}

interface KnownKey {
  readonly tenant: string;
  readonly userId: string;
  readonly sha256: string;
  readonly permissions: ReadonlySet<string>;
  readonly expiresAt: number;
  readonly ratePerMinute: number;
}

/** Compared against when the key id is unknown, so an unknown id costs the same as a wrong secret. */
const noSuchKey = sha256Hex('vigil: no such API key');

/**
 * Every usable API key, kept in memory by every edge from the API key events on AUTH_EVENT (an ordered consumer
 * from the start of the stream): a key is authenticated with no database and no bus round trip, and a revocation
 * reaches every edge within milliseconds. Only SHA-256 digests of keys are held, compared in constant time.
 */
export class ApiKeyDirectory {
  readonly #keys = new Map<string, KnownKey>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #feed: EdgeFeed;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: ApiKeyDirectoryOptions) {
    this.#feed = new EdgeFeed({ ...options, filter: apiKeyEventsFilter, what: 'API keys', onEvent: (e) => this.#apply(e) });
  }

  /**
   * Resolves once the keys already stored are known, or after `maxWaitMs` not to hold a start up. Without the stream
   * yet (an edge that starts before any worker made it), it keeps trying in the background.
   */
  async start(maxWaitMs = 3000): Promise<void> {
    this.#sweeper = setInterval(() => this.#sweep(Date.now()), 60_000);
    this.#sweeper.unref();
    await this.#feed.start(maxWaitMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#feed.stop();
  }

  #apply({ event, subject }: FollowedEvent): void {
    // `auth.<tenant>.apikey.<key id>`
    const [, tenant, , keyId] = subject.split('.');
    if (!tenant || !keyId) return;
    if (ApiKeyCreated.is(event)) {
      const d = event.data;
      this.#keys.set(keyId, {
        tenant,
        userId: d.user_id,
        sha256: d.secret_sha256,
        permissions: new Set(d.permissions),
        expiresAt: Date.parse(d.expires_at),
        ratePerMinute: d.rate_limit_per_minute,
      });
      for (const wake of this.#waiters.get(keyId) ?? []) wake();
      this.#waiters.delete(keyId);
    } else if (ApiKeyRevoked.is(event)) {
      this.#keys.delete(keyId);
    }
  }

  /** The principal of a usable key, or undefined; why a key failed is not the caller's business. */
  authenticate(key: string, now = Date.now()): ApiKeyPrincipal | undefined {
    const keyId = apiKeyIdOf(key);
    const known = keyId === undefined ? undefined : this.#keys.get(keyId);
    const matches = digestsEqual(sha256Hex(key), known?.sha256 ?? noSuchKey);
    if (keyId === undefined || !known || !matches || now >= known.expiresAt) return undefined;
    return { kind: 'api_key', apiKeyId: keyId, tenant: known.tenant, userId: known.userId, permissions: known.permissions, ratePerMinute: known.ratePerMinute };
  }

  /** Read-your-writes for the edge that made a key: resolves once the key's creation has come through the feed. */
  async waitFor(keyId: string, timeoutMs: number): Promise<boolean> {
    if (this.#keys.has(keyId)) return true;
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.get(keyId)?.delete(wake);
        resolve(false);
      }, timeoutMs);
      const set = this.#waiters.get(keyId) ?? new Set();
      set.add(wake);
      this.#waiters.set(keyId, set);
    });
  }

  /** Forgets a key at once (the edge that handled its revocation); the feed does the same on every edge. */
  remove(keyId: string): void {
    this.#keys.delete(keyId);
  }

  size(): number {
    return this.#keys.size;
  }

  #sweep(now: number): void {
    for (const [id, key] of this.#keys) if (key.expiresAt <= now) this.#keys.delete(id);
  }
}
