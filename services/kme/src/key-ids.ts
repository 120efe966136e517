import { uuidv7 } from '@vigil/crypto';

/**
 * Key IDs carry the request that made them: a request id is a UUIDv7 whose last 16 bits are zero, and key i of
 * that request is the same UUID with i in those bits. A slave's key_ID leads straight to its request's subject,
 * with no lookup table and no projection to wait for. (Key IDs are not secret: ETSI 014 has SAEs exchange them
 * in the clear.)
 */
export function newRequestId(): string {
  return `${uuidv7().slice(0, 32)}0000`;
}

export const maxKeysPerRequest = 65_536;

export function keyIdOf(requestId: string, index: number): string {
  if (index < 0 || index >= maxKeysPerRequest) throw new RangeError(`key index ${index} is out of range`);
  return `${requestId.slice(0, 32)}${index.toString(16).padStart(4, '0')}`;
}

export function requestIdOf(keyId: string): { requestId: string; index: number } {
  return { requestId: `${keyId.slice(0, 32)}0000`.toLowerCase(), index: Number.parseInt(keyId.slice(32), 16) };
}
