import { Kvm, type KV } from '@nats-io/kv';
import type { Bus } from '@vigil/bus';
import { secretPattern, uuidPattern } from './token-shape.ts';

const day = 24 * 60 * 60 * 1000;

/** The longest an API key may live: a key is a long-lived secret, so it must still end. */
export const apiKeyMaxLifetimeMs = 365 * day;

/**
 * An API key as shown once: `vgl_<key id>_<secret>`, the secret 256 random bits in base64url (43 characters). The
 * id lets an edge find the key without a search; the secret is what proves it. The prefix makes a leaked key easy
 * to recognise (secret scanners) and to tell from a JWT.
 */
export const apiKeyPrefix = 'vgl_';
const apiKeyShape = new RegExp(`^${apiKeyPrefix}(${uuidPattern})_${secretPattern}$`);

/** The key id an API key names, or undefined when the text is not shaped like one of ours. */
export function apiKeyIdOf(key: string): string | undefined {
  return apiKeyShape.exec(key)?.[1];
}

/** The key's last use is recorded at most this often per key and edge: "last used" is precise to the minute. */
export const apiKeyLastUseIntervalMs = 60_000;

/**
 * When each API key was last used, in a JetStream KV bucket keeping one value per key (`<tenant>.<key id>` → ISO
 * time). Edges write it, at most once a minute per key; the identity worker reads it to list keys.
 *
 * Why a bucket and not an `apikey.used` event: the last use is one value that is overwritten, not history. As events
 * on AUTH_EVENT (kept for ever) it would add one event per busy key per minute for the key's whole life — over half
 * a million a year for one key used all the time — summarised again on AUDIT (which denies delete), and the key's
 * own subject, which a revocation replays, would grow with it. The bucket holds one message per key, whatever the
 * traffic, and its entries age out a while after the longest a key may live.
 */
export class ApiKeyLastUse {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Opens the bucket, making it when it does not exist yet (edges and workers may start in any order). */
  static async open(bus: Bus): Promise<ApiKeyLastUse> {
    const kv = await new Kvm(bus.js).create(bus.names.stream('VIGIL_APIKEY_LAST_USE'), { history: 1, ttl: apiKeyMaxLifetimeMs + 30 * day });
    return new ApiKeyLastUse(kv);
  }

  async record(tenant: string, keyId: string, at: Date): Promise<void> {
    await this.#kv.put(`${tenant}.${keyId}`, at.toISOString());
  }

  /** The time of the last recorded use, or undefined. */
  async lastUsed(tenant: string, keyId: string): Promise<string | undefined> {
    const entry = await this.#kv.get(`${tenant}.${keyId}`);
    return entry && entry.operation === 'PUT' ? entry.string() : undefined;
  }
}
