import { createHash } from 'node:crypto';

/**
 * A UUIDv8 (RFC 9562 §5.8) from the SHA-256 of a purpose and a name: the same name always gives the same id, so an
 * event derived from another (a summary, a checkpoint) published twice carries one `Nats-Msg-Id` and is stored once.
 */
export function derivedId(purpose: string, name: string): string {
  const bytes = createHash('sha256').update(`vigil:${purpose}:${name}`, 'utf8').digest().subarray(0, 16);
  bytes[6] = 0x80 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
