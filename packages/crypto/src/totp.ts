import { Secret, TOTP } from 'otpauth';

/** RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30-second steps. */
const period = 30;
const digits = 6;

/** A new TOTP secret: 160 random bits (RFC 4226's recommended size), base32 as apps take it. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/...` URI a QR code carries. */
export function totpUri(secretBase32: string, issuer: string, account: string): string {
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits, period }).toString();
}

/** The time step (counter) a moment falls in. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / period);
}

/** The code of a step (for tests and tools; the server only ever checks codes). */
export function totpCode(secretBase32: string, step: number): string {
  return new TOTP({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits, period }).generate({ timestamp: step * period * 1000 });
}

/**
 * The time step whose code this is, within one step of now either way (clock drift), or undefined. The caller
 * refuses a step at or below the last one used, so each code works once.
 */
export function matchTotpStep(secretBase32: string, code: string, nowMs: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const totp = new TOTP({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits, period });
  const delta = totp.validate({ token: code, timestamp: nowMs, window: 1 });
  return delta === null ? undefined : totpStep(nowMs) + delta;
}
