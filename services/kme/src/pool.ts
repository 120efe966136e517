import type { EventDraft, VigilError } from '@vigil/bus';
import { containerBytesBound, etsiMessages, KmeBadRequestError, KmeUnavailableError } from '@vigil/kme-contract';
import type { DataOf, KeysAllocated } from '@vigil/schemas';
import type { Link } from './topology.ts';

/** The subject of a link's allocations: one event per group commit, appended with the expected last sequence. */
export function poolSubject(linkId: string): string {
  return `keyreq.${linkId}.pool`;
}

/** A block of key material on KEY_SUPPLY, as the pool sees it: where it is and how big. */
export interface SupplyBlock {
  readonly seq: number;
  readonly bytes: number;
}

/** Where the next unallocated material of a link starts. */
export interface Cursor {
  readonly blockSeq: number;
  readonly offset: number;
}

export type Range = DataOf<typeof KeysAllocated>['allocations'][number]['ranges'][number];

/** Bytes of material not yet allocated: the rest of the cursor's block and every later block. */
export function availableBytes(blocks: readonly SupplyBlock[], cursor: Cursor | undefined): number {
  let total = 0;
  for (const b of blocks) {
    if (cursor && b.seq < cursor.blockSeq) continue;
    total += cursor && b.seq === cursor.blockSeq ? Math.max(0, b.bytes - cursor.offset) : b.bytes;
  }
  return total;
}

/** Keys of `bits` the pool can still deliver, capped by the link's max_key_count. */
export function storedKeyCount(link: Link, blocks: readonly SupplyBlock[], cursor: Cursor | undefined, bits = link.limits.key_size): number {
  return Math.min(link.limits.max_key_count, Math.floor(availableBytes(blocks, cursor) / (bits / 8)));
}

export interface EncKeysCommand {
  readonly requestId: string;
  readonly kmeId: string;
  readonly master: string;
  readonly slaves: readonly string[];
  readonly number: number;
  readonly bits: number;
  readonly expiresAt: string;
}

/**
 * Validates a Key request against the link's limits, ETSI GS QKD 014 clause 6.2 to the letter.
 * `additional` are the additional_slave_SAE_IDs as sent.
 */
export function checkKeyRequest(
  link: Link,
  request: { master: string; slave: string; number?: number; size?: number; additional?: readonly string[]; extensionMandatory?: readonly Record<string, unknown>[] },
): { number: number; bits: number; slaves: string[] } {
  const { limits } = link;
  const number = request.number ?? 1;
  const bits = request.size ?? limits.key_size;
  if (request.extensionMandatory && request.extensionMandatory.length > 0) {
    // Vigil supports no extension parameters yet: every mandatory one is unsupported.
    const err: VigilError = new KmeBadRequestError(etsiMessages.extensionMandatoryUnsupported);
    err.details = request.extensionMandatory.flatMap((o) => Object.keys(o)).map((name) => ({ extension_mandatory_unsupported: `${name} is not supported` }));
    throw err;
  }
  if (!Number.isInteger(number) || number < 1) throw new KmeBadRequestError('number shall be a positive integer');
  if (number > limits.max_key_per_request) throw new KmeBadRequestError(`number shall not exceed max_key_per_request (${limits.max_key_per_request})`);
  if (!Number.isInteger(bits) || bits < 1) throw new KmeBadRequestError('size shall be a positive integer');
  if (bits % 8 !== 0) throw new KmeBadRequestError(etsiMessages.sizeMultipleOf8);
  if (bits < limits.min_key_size) throw new KmeBadRequestError(`size shall not be less than min_key_size (${limits.min_key_size})`);
  if (bits > limits.max_key_size) throw new KmeBadRequestError(`size shall not exceed max_key_size (${limits.max_key_size})`);
  const additional = request.additional ?? [];
  if (additional.length > limits.max_SAE_ID_count) {
    throw new KmeBadRequestError(
      limits.max_SAE_ID_count === 0 ? 'key multicast is not supported (max_SAE_ID_count is 0)' : `additional_slave_SAE_IDs shall not exceed max_SAE_ID_count (${limits.max_SAE_ID_count})`,
    );
  }
  const seen = new Set<string>([request.slave]);
  for (const id of additional) {
    if (id === request.master) throw new KmeBadRequestError('additional_slave_SAE_IDs shall not contain the master SAE');
    if (seen.has(id)) throw new KmeBadRequestError('additional_slave_SAE_IDs shall not repeat an SAE ID or the slave SAE');
    seen.add(id);
  }
  if (request.slave === request.master) throw new KmeBadRequestError('the slave SAE shall not be the master SAE');
  return { number, bits, slaves: [request.slave, ...additional] };
}

/** The most keys of `bits` one answer of `roomBytes` holds: the keys travel back sealed in one bus message. */
export function keysPerAnswer(bits: number, roomBytes: number): number {
  let low = 0;
  let high = 1 << 20;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (containerBytesBound(mid, bits) <= roomBytes) low = mid;
    else high = mid - 1;
  }
  return low;
}

export type AllocationData = DataOf<typeof KeysAllocated>['allocations'][number];

export interface AllocationDecision {
  /** Absent when no command could be served. */
  readonly draft?: EventDraft<'kme.pool.keys_allocated', 1, DataOf<typeof KeysAllocated>>;
  /** Commands refused for lack of material, by request id. */
  readonly refused: ReadonlyMap<string, VigilError>;
}

/**
 * Decides allocations, in order: each command takes the next `number × bits/8` bytes of the link's material from
 * the cursor. Never overlaps an earlier allocation, because the event is appended expecting the pool subject's
 * last sequence. A command the pool cannot serve is refused alone; later, smaller ones may still be served.
 */
export function decideAllocations(commands: readonly EncKeysCommand[], blocks: readonly SupplyBlock[], cursor: Cursor | undefined): AllocationDecision {
  const allocations: AllocationData[] = [];
  const refused = new Map<string, VigilError>();
  let at = cursor;
  for (const command of commands) {
    const bytesPerKey = command.bits / 8;
    const available = availableBytes(blocks, at);
    const needed = command.number * bytesPerKey;
    if (available < needed) {
      const count = Math.floor(available / bytesPerKey);
      refused.set(command.requestId, new KmeUnavailableError(`keys are not available: the QKD link holds ${count} key(s) of ${command.bits} bits, ${command.number} requested`));
      continue;
    }
    const taken = takeMaterial(blocks, at, needed);
    at = taken.next;
    allocations.push({
      request_id: command.requestId,
      kme_id: command.kmeId,
      master_SAE_ID: command.master,
      slave_SAE_IDs: [...command.slaves],
      key_count: command.number,
      key_bits: command.bits,
      ranges: taken.ranges,
      expires_at: command.expiresAt,
    });
  }
  if (allocations.length === 0 || !at) return { refused };
  return { draft: { type: 'kme.pool.keys_allocated', v: 1, data: { allocations, next: { block_seq: at.blockSeq, offset: at.offset } } }, refused };
}

/** The ranges of the next `needed` bytes from the cursor, and the cursor after them (enough bytes are there). */
function takeMaterial(blocks: readonly SupplyBlock[], cursor: Cursor | undefined, needed: number): { ranges: Range[]; next: Cursor } {
  const ranges: Range[] = [];
  let rest = needed;
  let next = cursor;
  for (const b of blocks) {
    if (rest === 0) break;
    if (cursor && b.seq < cursor.blockSeq) continue;
    const start = cursor && b.seq === cursor.blockSeq ? cursor.offset : 0;
    const length = Math.min(b.bytes - start, rest);
    if (length <= 0) continue;
    ranges.push({ block_seq: b.seq, offset: start, length });
    rest -= length;
    // A block used to its end moves the cursor past it: whatever is stored after it (at any later sequence)
    // comes next, and the block is wholly allocated.
    next = start + length === b.bytes ? { blockSeq: b.seq + 1, offset: 0 } : { blockSeq: b.seq, offset: start + length };
  }
  if (rest > 0 || !next) throw new KmeUnavailableError('keys are not available');
  return { ranges, next };
}

/** The key material of key `index`, cut from the allocation's ranges joined (the blocks already opened). */
export function keyMaterial(ranges: readonly Range[], bits: number, index: number, blockBytes: (seq: number) => Buffer): Buffer {
  const bytesPerKey = bits / 8;
  let skip = index * bytesPerKey;
  let want = bytesPerKey;
  const parts: Buffer[] = [];
  for (const r of ranges) {
    if (want === 0) break;
    if (skip >= r.length) {
      skip -= r.length;
      continue;
    }
    const take = Math.min(r.length - skip, want);
    parts.push(blockBytes(r.block_seq).subarray(r.offset + skip, r.offset + skip + take));
    want -= take;
    skip = 0;
  }
  if (want > 0) throw new RangeError(`key ${index} lies outside its allocation`);
  return Buffer.concat(parts);
}
