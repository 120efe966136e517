import { importJWK, jwtVerify, type JWK, type JWTHeaderParameters } from 'jose';
import { request, type Bus } from '@vigil/bus';
import { accessClaimsOf, identitySubjects, parseJwks, permissionsOf, type Jwks } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import type { SessionPrincipal } from './principal.ts';

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

export interface VerifierOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly issuer: string;
  readonly audience: string;
  readonly timeoutMs: number;
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
    if (!key && Date.now() - this.#lastFetch >= (this.#options.refreshGapMs ?? 2000)) {
      await this.refresh();
      key = this.#keys.get(kid);
    }
    if (!key) throw new Error('unknown signing key');
    return key;
  }

  /** The principal of a valid token, or undefined; why a token failed is not the caller's business. */
  async verify(token: string): Promise<SessionPrincipal | undefined> {
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
      return {
        kind: 'session',
        userId: claims.sub,
        tenant: claims.tenant,
        sessionId: claims.sid,
        roles: claims.roles,
        permissions: permissionsOf(claims.roles),
        issuedAt: claims.iat,
      };
    } catch {
      return undefined;
    }
  }
}
