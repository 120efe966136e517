import { randomToken, sha256Hex } from '@vigil/crypto';
import { secretPattern, tenantPattern, uuidPattern } from '@vigil/identity-contract';

/**
 * An opaque refresh token `<tenant>.<session id>.<256 random bits>`: it names its session so the worker goes straight
 * to the session's subject, and only its SHA-256 is ever stored.
 */
export function newRefreshToken(tenant: string, sessionId: string): { token: string; sha256: string } {
  const token = `${tenant}.${sessionId}.${randomToken()}`;
  return { token, sha256: sha256Hex(token) };
}

const shape = new RegExp(`^(${tenantPattern})\\.(${uuidPattern})\\.${secretPattern}$`);

/** The tenant and session a refresh token names, or undefined when it is not one of ours. */
export function refreshTokenSession(token: string): { tenant: string; sessionId: string } | undefined {
  const m = shape.exec(token);
  const tenant = m?.[1];
  const sessionId = m?.[2];
  return tenant && sessionId ? { tenant, sessionId } : undefined;
}
