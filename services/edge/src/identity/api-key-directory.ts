import type { Bus, FollowedEvent } from '@vigil/bus';
import { digestsEqual, sha256Hex, uuidv7Time } from '@vigil/crypto';
import { apiKeyEventsFilter, apiKeyIdOf, apiKeySubject, ApiKeyViewBehindError } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import { ApiKeyCreated, ApiKeyRevoked } from '@vigil/schemas';
import { EdgeFeed } from './edge-feed.ts';
import type { ApiKeyPrincipal } from './principal.ts';

export interface ApiKeyDirectoryOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly lookup?: Partial<ApiKeyLookupLimits>;
  /** Told what became of each key id this edge did not hold (for metrics); never the key itself. */
  readonly onLookup?: (outcome: ApiKeyLookupOutcome) => void;
}

/**
 * What became of a key id the edge did not hold: read and `found` (made through another edge), read and `absent` (no
 * such key, or revoked), or refused without a read: `known_absent` (found absent before), `not_recent` (its id is too
 * old or too far ahead to be a key made a moment ago), `busy` (maxLookups under way), or `behind` (503).
 */
export type ApiKeyLookupOutcome = 'found' | 'absent' | 'known_absent' | 'not_recent' | 'busy' | 'behind';

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
 * How an edge looks up a key it does not know. A key made through another edge a moment ago is one whose id (a
 * UUIDv7) says it was made within `recentMs`; anything older, once the view has caught up, is not a key. Each lookup is
 * a read on the bus, which an attacker could ask for with made-up ids: ids found absent are remembered, at most
 * `maxLookups` run at once (more are refused, not queued), and each waits at most `timeoutMs`.
 */
export interface ApiKeyLookupLimits {
  readonly recentMs: number;
  /** How far ahead of this edge's clock an id may be (another edge's clock). */
  readonly clockSkewMs: number;
  readonly maxLookups: number;
  readonly timeoutMs: number;
  /** How many absent ids are remembered; the oldest are forgotten first. */
  readonly maxAbsent: number;
}

const defaultLookupLimits: ApiKeyLookupLimits = { recentMs: 5 * 60_000, clockSkewMs: 60_000, maxLookups: 32, timeoutMs: 2000, maxAbsent: 10_000 };

/**
 * Every usable API key, kept in memory by every edge from the API key events on AUTH_EVENT (an ordered consumer
 * from the start of the stream): a key is authenticated with no database and no bus round trip, and a revocation
 * reaches every edge within milliseconds. Only SHA-256 digests of keys are held, compared in constant time.
 */
export class ApiKeyDirectory {
  readonly #keys = new Map<string, KnownKey>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #feed: EdgeFeed;
  readonly #limits: ApiKeyLookupLimits;
  /** Lookups under way, one per key id, however many requests wait on it. */
  readonly #lookups = new Map<string, Promise<void>>();
  /** Key ids looked up and not found, with when to forget them (in insertion order, so the oldest go first). */
  readonly #absent = new Map<string, number>();
  readonly #onLookup: (outcome: ApiKeyLookupOutcome) => void;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: ApiKeyDirectoryOptions) {
    this.#limits = { ...defaultLookupLimits, ...options.lookup };
    this.#onLookup = options.onLookup ?? (() => undefined);
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

  /**
   * `authenticate` for a key this edge may not have seen yet: one made through another edge a moment ago, or any key
   * while this edge is still reading the stream at start. The key's last event is read once (its subject holds the id,
   * whatever the tenant) and the feed awaited up to it, so a revoked key stays refused. Not a key: undefined. A view
   * that cannot get there in time, or an edge that cannot ask the bus, is ApiKeyViewBehindError (503), never a guess.
   */
  async learn(key: string, now = Date.now()): Promise<ApiKeyPrincipal | undefined> {
    const known = this.authenticate(key, now);
    const keyId = apiKeyIdOf(key);
    if (known || keyId === undefined || this.#keys.has(keyId)) return known;
    const refusal = this.#refusalWithoutRead(keyId, now);
    if (refusal) {
      this.#onLookup(refusal);
      return undefined;
    }
    let lookup = this.#lookups.get(keyId);
    if (!lookup) {
      if (this.#lookups.size >= this.#limits.maxLookups) {
        this.#onLookup('busy');
        return undefined;
      }
      lookup = this.#lookUp(keyId, now).finally(() => this.#lookups.delete(keyId));
      this.#lookups.set(keyId, lookup);
    }
    await lookup;
    return this.authenticate(key, now);
  }

  /** Why an id not held is refused without a read, if it is. */
  #refusalWithoutRead(keyId: string, now: number): ApiKeyLookupOutcome | undefined {
    const forgetAt = this.#absent.get(keyId);
    if (forgetAt !== undefined) {
      if (forgetAt > now) return 'known_absent';
      this.#absent.delete(keyId);
    }
    if (!this.#feed.caughtUp) return undefined;
    const madeAt = uuidv7Time(keyId);
    return madeAt >= now - this.#limits.recentMs && madeAt <= now + this.#limits.clockSkewMs ? undefined : 'not_recent';
  }

  /** One read of the key's events, counted once however many requests wait on it. */
  async #lookUp(keyId: string, now: number): Promise<void> {
    try {
      // Its subject holds the id whatever the tenant: the key's own events, read once.
      await this.#feed.catchUpTo(apiKeySubject('*', keyId), this.#limits.timeoutMs, (cause) => new ApiKeyViewBehindError({ cause }));
    } catch (err) {
      this.#onLookup('behind');
      throw err;
    }
    if (this.#keys.has(keyId)) {
      this.#onLookup('found');
      return;
    }
    // No such key, or one revoked already: remembered until its id is too old to be looked up anyway (a minute while
    // the view is still catching up).
    this.#onLookup('absent');
    this.#rememberAbsent(keyId, this.#feed.caughtUp ? uuidv7Time(keyId) + this.#limits.recentMs : now + 60_000);
  }

  #rememberAbsent(keyId: string, forgetAt: number): void {
    this.#absent.set(keyId, forgetAt);
    for (const oldest of this.#absent.keys()) {
      if (this.#absent.size <= this.#limits.maxAbsent) break;
      this.#absent.delete(oldest);
    }
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
    for (const [id, forgetAt] of this.#absent) if (forgetAt <= now) this.#absent.delete(id);
  }
}
