import { createHash, timingSafeEqual } from 'node:crypto';
import { pooledRandomBytes } from './random-pool.ts';

/** 256 random bits as base64url (43 characters): refresh tokens, API key secrets. */
export function randomToken(bytes = 32): string {
  if (bytes < 32) throw new Error('a token needs at least 256 random bits');
  return pooledRandomBytes(bytes).toString('base64url');
}

/** Lowercase hex SHA-256 of a UTF-8 string: how tokens are stored, and how personal data becomes a subject token. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Equal hex digests, compared in constant time. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
