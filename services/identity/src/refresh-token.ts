import { randomToken, sha256Hex } from '@vigil/crypto';

/**
 * An opaque refresh token `<tenant>.<session id>.<256 random bits>`: it names its session so the worker goes straight
 * to the session's subject, and only its SHA-256 is ever stored.
 */
export function newRefreshToken(tenant: string, sessionId: string): { token: string; sha256: string } {
  const token = `${tenant}.${sessionId}.${randomToken()}`;
  return { token, sha256: sha256Hex(token) };
}

const shape = /^([a-z0-9][a-z0-9_-]{0,62})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

/** The tenant and session a refresh token names, or undefined when it is not one of ours. */
export function refreshTokenSession(token: string): { tenant: string; sessionId: string } | undefined {
  const m = shape.exec(token);
  const tenant = m?.[1];
  const sessionId = m?.[2];
  return tenant && sessionId ? { tenant, sessionId } : undefined;
}
