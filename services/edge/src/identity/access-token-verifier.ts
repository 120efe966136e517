import { importJWK, jwtVerify, type JWK, type JWTHeaderParameters } from 'jose';
import { request, type Bus } from '@vigil/bus';
import { accessClaimsOf, identitySubjects, parseJwks, permissionsOf, type AccessClaims, type Jwks } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import type { SessionPrincipal } from './principal.ts';

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

/** Verified tokens kept (about 1 KiB each): the access tokens of that many active sessions skip the signature check. */
const verifiedCacheSize = 10_000;

export interface VerifierOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly issuer: string;
  readonly audience: string;
  readonly timeoutMs: number;
  /** What a tenant's roles grant (its custom roles too); the built-in roles alone when absent. */
  readonly permissionsOf?: (tenant: string, roles: readonly string[]) => ReadonlySet<string>;
  /** Least time between two asks for the keys when a token names an unknown one (a flood must not become bus load). */
  readonly refreshGapMs?: number;
}

/**
 * Verifies access tokens locally (EdDSA, `iss`, `aud`, `exp`, `typ` at+jwt) with the public keys the identity workers
 * publish over the bus: fetched at start, again every few minutes, and when a token names a `kid` not seen yet
 * (a rotation), so no request waits on the bus except the first after a new key.
 */
export class AccessTokenVerifier {
  readonly #options: VerifierOptions;
  #jwks: Jwks = { keys: [] };
  #keys = new Map<string, VerifyKey>();
  #lastFetch = 0;
  #fetching: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #cache = new Map<string, { readonly claims: AccessClaims }>();

  constructor(options: VerifierOptions) {
    this.#options = options;
  }

  start(): void {
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), 5 * 60_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The keys as last fetched (the edge serves them at /.well-known/jwks.json). */
  async jwks(): Promise<Jwks> {
    if (this.#jwks.keys.length === 0) await this.refresh();
    return this.#jwks;
  }

  async refresh(): Promise<void> {
    this.#fetching ??= (async () => {
      this.#lastFetch = Date.now();
      try {
        const jwks = await request(this.#options.bus, identitySubjects.jwks, {}, { timeoutMs: this.#options.timeoutMs, parse: parseJwks });
        const keys = new Map<string, VerifyKey>();
        for (const k of jwks.keys) {
          const jwk: JWK = { ...k };
          keys.set(k.kid, await importJWK(jwk, 'EdDSA'));
        }
        this.#jwks = jwks;
        this.#keys = keys;
      } catch (err) {
        this.#options.logger.warn({ err }, 'could not fetch the token signing keys from the identity workers');
      }
    })().finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  async #keyFor(header: JWTHeaderParameters): Promise<VerifyKey> {
    const kid = header.kid ?? '';
    let key = this.#keys.get(kid);
    // The keys are being fetched (an edge that just started): wait for them rather than refuse a valid token.
    if (!key && this.#fetching) {
      await this.#fetching;
      key = this.#keys.get(kid);
    }
    if (!key && Date.now() - this.#lastFetch >= (this.#options.refreshGapMs ?? 2000)) {
      await this.refresh();
      key = this.#keys.get(kid);
    }
    if (!key) throw new Error('unknown signing key');
    return key;
  }

  /** The principal of a valid token, or undefined; why a token failed is not the caller's business. */
  async verify(token: string): Promise<SessionPrincipal | undefined> {
    const claims = this.#verified(token) ?? (await this.#verifySignature(token));
    if (!claims) return undefined;
    return {
      kind: 'session',
      userId: claims.sub,
      tenant: claims.tenant,
      sessionId: claims.sid,
      roles: claims.roles,
      // Resolved on every request, never cached with the token: a custom role's change applies at once.
      permissions: this.#options.permissionsOf ? this.#options.permissionsOf(claims.tenant, claims.roles) : permissionsOf(claims.roles),
      issuedAt: claims.iat,
    };
  }

  /**
   * The claims of a token this edge verified before and that has not expired yet. A client sends one access token
   * with every request for its lifetime: checking its EdDSA signature once instead of each time is most of what
   * authorising a request costs. Keyed by the whole token, so only the exact bytes verified before match; revocation
   * and the tenant's state are still checked on every request by the caller.
   */
  #verified(token: string): AccessClaims | undefined {
    const hit = this.#cache.get(token);
    if (!hit) return undefined;
    if (hit.claims.exp * 1000 <= Date.now()) {
      this.#cache.delete(token);
      return undefined;
    }
    return hit.claims;
  }

  async #verifySignature(token: string): Promise<AccessClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, (header) => this.#keyFor(header), {
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
        clockTolerance: 5,
      });
      const claims = accessClaimsOf(payload);
      if (!claims) return undefined;
      // Oldest first out when full: a Map iterates in insertion order.
      if (this.#cache.size >= verifiedCacheSize) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(token, { claims });
      return claims;
    } catch {
      return undefined;
    }
  }
}
