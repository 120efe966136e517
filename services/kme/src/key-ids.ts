/**
 * Key IDs carry the request that made them, and the request id says where its keys were decided, so a slave's
 * key_ID leads straight to its keys with no lookup table and no projection to wait for. (Key IDs are not secret:
 * ETSI 014 has SAEs exchange them in the clear.)
 *
 * A request id is a UUIDv7 (time in its first 48 bits) laid out, in hex digits, as
 *
 *   tttttttt-tttt-7ppp-8aaa-aaaaaaaa0000
 *
 * - `ppp`: the request's position in its allocation event (group commit);
 * - `aaa…`: the anchor, 44 bits: the stream sequence the allocation event was appended after on the link's pool
 *   subject (its expected last subject sequence), or, for a link's first allocation, the sequence of the link's
 *   configuration. The allocation event is the first message of the pool subject after the anchor;
 * - the last 16 bits are zero; key i of the request has i there.
 *
 * Unique by construction: anchors of allocation events that were stored are distinct stream messages (an event is
 * stored only if it expected the anchor, and one event does), positions are distinct within an event, and a
 * decision whose append lost the race is decided again with new ids before any id is handed out.
 */

/** The largest anchor a request id holds: 2^44 - 1, some 17 trillion KEY_REQUEST messages. */
export const maxAnchor = 2 ** 44 - 1;
/** Positions in one allocation event: 12 bits. */
export const maxPosition = 4095;
export const maxKeysPerRequest = 65_536;

function dashed(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The id of the request at `position` of the allocation event appended after `anchor`. */
export function requestIdFor(anchor: number, position: number, now = Date.now()): string {
  if (!Number.isSafeInteger(anchor) || anchor < 1 || anchor > maxAnchor) throw new RangeError(`anchor ${anchor} is out of range`);
  if (!Number.isInteger(position) || position < 0 || position > maxPosition) throw new RangeError(`position ${position} is out of range`);
  const hex = `${now.toString(16).padStart(12, '0').slice(-12)}7${position.toString(16).padStart(3, '0')}8${anchor.toString(16).padStart(11, '0')}0000`;
  return dashed(hex);
}

/** The anchor a request id (or key ID) holds; 0 for one that is not laid out so (a request made before). */
export function anchorOf(id: string): number {
  const hex = id.replaceAll('-', '');
  if (hex.length !== 32 || hex[12] !== '7' || hex[16]?.toLowerCase() !== '8') return 0;
  const anchor = Number.parseInt(hex.slice(17, 28), 16);
  return Number.isSafeInteger(anchor) ? anchor : 0;
}

export function keyIdOf(requestId: string, index: number): string {
  if (index < 0 || index >= maxKeysPerRequest) throw new RangeError(`key index ${index} is out of range`);
  return `${requestId.slice(0, 32)}${index.toString(16).padStart(4, '0')}`;
}

export function requestIdOf(keyId: string): { requestId: string; index: number } {
  return { requestId: `${keyId.slice(0, 32)}0000`.toLowerCase(), index: Number.parseInt(keyId.slice(32), 16) };
}
