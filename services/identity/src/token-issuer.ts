import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { randomToken } from '@vigil/crypto';
import type { Role } from '@vigil/identity-contract';
import type { SigningKeys } from './signing-keys.ts';

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly accessTtlSeconds: number;
  /** How long the step between password and TOTP code may take. */
  readonly mfaTtlSeconds: number;
}

export interface AccessSubject {
  readonly userId: string;
  readonly tenant: string;
  readonly sessionId: string;
  readonly roles: readonly Role[];
}

/** RFC 9068's type for access tokens, so an MFA challenge (or any other JWT of ours) never passes for one. */
export const accessTokenType = 'at+jwt';
const mfaTokenType = 'vigil-mfa+jwt';

/** Signs access tokens and MFA challenges with the current Ed25519 key (EdDSA), named by `kid`. */
export class TokenIssuer {
  readonly #keys: SigningKeys;
  readonly #settings: TokenSettings;
  readonly #verifyKeys: ReturnType<typeof createLocalJWKSet>;

  constructor(keys: SigningKeys, settings: TokenSettings) {
    this.#keys = keys;
    this.#settings = settings;
    this.#verifyKeys = createLocalJWKSet({ keys: keys.publicKeys.map((k) => ({ ...k })) });
  }

  get settings(): TokenSettings {
    return this.#settings;
  }

  async accessToken(subject: AccessSubject, now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000);
    return new SignJWT({ tenant: subject.tenant, sid: subject.sessionId, roles: [...subject.roles] })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.#keys.current.kid, typ: accessTokenType })
      .setIssuer(this.#settings.issuer)
      .setAudience(this.#settings.audience)
      .setSubject(subject.userId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.#settings.accessTtlSeconds)
      .setJti(randomToken())
      .sign(this.#keys.current.privateKey);
  }

  /** The short-lived proof that the password was right, exchanged with a TOTP code for a session. */
  async mfaToken(userId: string, tenant: string, now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000);
    return new SignJWT({ tenant })
      .setProtectedHeader({ alg: 'EdDSA', kid: this.#keys.current.kid, typ: mfaTokenType })
      .setIssuer(this.#settings.issuer)
      .setAudience(`${this.#settings.audience}#mfa`)
      .setSubject(userId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.#settings.mfaTtlSeconds)
      .sign(this.#keys.current.privateKey);
  }

  /** The user and tenant of a valid MFA challenge, or undefined. */
  async verifyMfaToken(token: string): Promise<{ userId: string; tenant: string } | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#verifyKeys, {
        issuer: this.#settings.issuer,
        audience: `${this.#settings.audience}#mfa`,
        typ: mfaTokenType,
        algorithms: ['EdDSA'],
      });
      const tenant = payload['tenant'];
      return typeof payload.sub === 'string' && typeof tenant === 'string' ? { userId: payload.sub, tenant } : undefined;
    } catch {
      return undefined;
    }
  }
}
