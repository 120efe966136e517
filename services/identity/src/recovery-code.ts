import { randomBytes } from 'node:crypto';
import { sha256Hex } from '@vigil/crypto';

/** How many recovery codes a user gets at once (at TOTP confirmation, and each time they are regenerated). */
export const recoveryCodeCount = 10;

const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A recovery code: 80 random bits as 16 base32 characters (RFC 4648's alphabet, lower case), shown in groups of four
 * (`abcd-efgh-ijkl-mnop`) to be written down.
 *
 * Stored as SHA-256, not argon2id: a slow hash protects secrets people choose, whose few bits an offline attacker can
 * enumerate. These are random: finding one from its digest is a 2^80 search per code whatever the hash, out of reach;
 * and the digest is salted with the tenant and user, so no table serves two users. argon2id would instead make every
 * MFA step cost up to ten argon2id verifications (the presented code against each stored hash) for no gain, turning
 * the public /auth/mfa/verify route into a CPU lever. Online guessing is bounded by the lockout (a wrong code counts
 * with TOTP's failures).
 */
export function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff; // only the bits not yet written matter (fewer than 13)
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)?.join('-') ?? out;
}

/** The code as typed, normalised: case and hyphens do not matter. */
function normalised(code: string): string {
  return code.toLowerCase().replaceAll('-', '').trim();
}

/** What the user's events hold of a recovery code. */
export function recoveryCodeHash(tenant: string, userId: string, code: string): string {
  return sha256Hex(`identity.recovery:${tenant}:${userId}:${normalised(code)}`);
}

/** A fresh set: the codes to show once, and their hashes to store. */
export function newRecoveryCodes(tenant: string, userId: string): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: recoveryCodeCount }, newRecoveryCode);
  return { codes, hashes: codes.map((c) => recoveryCodeHash(tenant, userId, c)) };
}
