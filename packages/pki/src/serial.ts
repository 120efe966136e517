import { randomBytes } from 'node:crypto';

/**
 * A random 128-bit serial number in hex (RFC 5280 allows up to 20 octets; CAs use random ones so serials cannot
 * be guessed). The top bit is cleared so the INTEGER stays positive, and one bit set so no leading zero octet.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** Serial numbers compared as hex without leading zeros, in lower case (tools print them differently). */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^(00)+(?=.)/, '');
}
