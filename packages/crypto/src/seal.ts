import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A key-encryption key: 32 bytes for AES-256-GCM, named so sealed data says which key opens it. */
export interface Kek {
  readonly id: string;
  readonly key: Buffer;
}

/** The KEKs this process knows: `current` seals, any of them opens (rotation keeps old data readable). */
export interface KekRing {
  readonly current: Kek;
  get(id: string): Kek | undefined;
}

export class SealError extends Error {
  override readonly name = 'SealError';
}

export function kekRing(current: Kek, others: readonly Kek[] = []): KekRing {
  for (const k of [current, ...others]) if (k.key.length !== 32) throw new SealError(`KEK ${k.id} must be 32 bytes, not ${k.key.length}`);
  const byId = new Map([current, ...others].map((k) => [k.id, k]));
  return { current, get: (id) => byId.get(id) };
}

/** Sealed bytes: `nonce (12) ‖ ciphertext ‖ tag (16)`, with the KEK id beside them. */
export interface Sealed {
  readonly kekId: string;
  readonly data: Buffer;
}

/**
 * AES-256-GCM under the ring's current KEK with a fresh 96-bit nonce. `aad` binds the ciphertext to what it
 * belongs to (a block id, a key id), so sealed data moved elsewhere does not open.
 */
export function seal(ring: KekRing, plaintext: Uint8Array, aad: string): Sealed {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', ring.current.key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { kekId: ring.current.id, data: Buffer.concat([nonce, body, cipher.getAuthTag()]) };
}

export function open(ring: KekRing, sealed: Sealed, aad: string): Buffer {
  const kek = ring.get(sealed.kekId);
  if (!kek) throw new SealError(`unknown KEK ${sealed.kekId}`);
  if (sealed.data.length < 28) throw new SealError('sealed data is too short');
  const nonce = sealed.data.subarray(0, 12);
  const tag = sealed.data.subarray(sealed.data.length - 16);
  const decipher = createDecipheriv('aes-256-gcm', kek.key, nonce);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.data.subarray(12, sealed.data.length - 16)), decipher.final()]);
  } catch {
    throw new SealError('sealed data does not open (wrong key, wrong context or tampered)');
  }
}
