// The rows of a bulk rebuild of audit_log as COPY text, made in two steps: everything but the hashes, on any thread
// (AuditRowEncoder: parse, validate, place in the chain, canonical JSON, COPY line), then the hashes, in chain order,
// on the thread that holds the chain's head (linkChain). No hash depends on anything but the record before, so the
// first step can run ahead on a worker thread (bulk-rebuild.ts) while the second stays short. Light imports only: a
// worker thread loads this module.
import type { EventRegistry } from '@vigil/schemas';
import type { StoredMessages } from '@vigil/store';
import { copyField } from '@vigil/store/copy-text';
import { canonicalJson } from './canonical-json.ts';
import { canonicalEntryJson, chainHashOfInput, ChainPositions, entryOf, prevHashBytes, RecentIds, type AuditEntry, type ChainHead } from './chain.ts';

/** The columns of each COPY line, in the order copyLineStart writes them, then prev_hash and hash. */
export const auditCopyColumns: readonly string[] = [
  'position',
  'seq',
  'event_id',
  'type',
  'v',
  'at',
  'tenant',
  'actor_kind',
  'actor_id',
  'correlation_id',
  'causation_id',
  'category',
  'severity',
  'subject',
  'details',
  'prev_hash',
  'hash',
];

/** Hex digits of a hash. */
const hashHex = 2 * prevHashBytes;
/** What each line keeps at its end for linkChain to fill: `<prev_hash>\t<hash>\n`. */
const hashSlotBytes = hashHex + 1 + hashHex + 1;

/** The rows of one batch, every hash still to compute. */
export interface AuditRowsText {
  readonly rows: number;
  /** Messages that failed validation. */
  readonly rejected: number;
  /** Per row: prevHashBytes of room for prev_hash, then the UTF-8 of the record's canonical JSON. */
  readonly hashInputs: Uint8Array<ArrayBuffer>;
  /** Where each row's hash input ends (the next one starts there). */
  readonly hashInputEnds: Uint32Array<ArrayBuffer>;
  /** COPY text, a line per row, each ending in hashSlotBytes of room for prev_hash and hash. */
  readonly copy: Uint8Array<ArrayBuffer>;
  /** Where each row's prev_hash goes in `copy` (its hash goes hashHex + 1 bytes further). */
  readonly hashSlots: Uint32Array<ArrayBuffer>;
}

/**
 * Where an encoder is in the chain (the last position given, the event ids it remembers), to go on from there on
 * another thread.
 */
export interface ChainPlace {
  readonly position: number;
  readonly recentIds: readonly string[];
  readonly capacity: number;
}

export const chainStart = (capacity: number): ChainPlace => ({ position: 0, recentIds: [], capacity });

/** Bytes in a buffer that grows, for text written as UTF-8. */
class ByteWriter {
  #bytes: Buffer<ArrayBuffer>;
  length = 0;

  constructor(capacity: number) {
    this.#bytes = Buffer.from(new ArrayBuffer(capacity));
  }

  /** Room for `bytes` more. */
  #reserve(bytes: number): void {
    if (this.length + bytes <= this.#bytes.length) return;
    const grown = Buffer.from(new ArrayBuffer(Math.max(this.length + bytes, this.#bytes.length * 2)));
    this.#bytes.copy(grown, 0, 0, this.length);
    this.#bytes = grown;
  }

  text(value: string): void {
    // At most 3 UTF-8 bytes per UTF-16 code unit.
    this.#reserve(value.length * 3);
    this.length += this.#bytes.write(value, this.length, 'utf8');
  }

  /** Room for bytes written later (by linkChain), with `byte` at each of `at` (offsets into the room). */
  room(bytes: number, ...marks: readonly (readonly [at: number, byte: number])[]): void {
    this.#reserve(bytes);
    for (const [at, byte] of marks) this.#bytes[this.length + at] = byte;
    this.length += bytes;
  }

  /** The bytes written, in a buffer of their own (transferable to another thread). */
  written(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.#bytes.buffer, 0, this.length);
  }
}

/**
 * A record's COPY line up to its hashes, in auditCopyColumns order: the values `rowOf` gives, as copyEncoder writes
 * them (`at` is already the ISO text a Date would give back; `details` is its canonical JSON, which a jsonb column
 * stores as it would store any other text of the same value).
 */
function copyLineStart(entry: AuditEntry, position: number, details: string): string {
  return (
    `${position}\t${entry.seq}\t${copyField(entry.event_id)}\t${copyField(entry.type)}\t${entry.v}\t${entry.at}\t${copyField(entry.tenant)}` +
    `\t${copyField(entry.actor.kind)}\t${copyField(entry.actor.id)}\t${copyField(entry.correlation_id)}\t${copyField(entry.causation_id)}` +
    `\t${copyField(entry.category)}\t${copyField(entry.severity)}\t${copyField(entry.subject)}\t${copyField(details)}\t`
  );
}

/**
 * Everything of a rebuild's rows but their hashes, batch after batch in stream order: each message validated with
 * `registry` as the projector validates it, every AUDIT event but a checkpoint placed in the chain (an id among the
 * recent ones is a duplicate and skipped, as ChainBuilder does), its canonical JSON and COPY line written.
 */
export class AuditRowEncoder {
  readonly #registry: EventRegistry;
  readonly #recent: RecentIds;
  readonly #positions: ChainPositions;

  constructor(registry: EventRegistry, place: ChainPlace) {
    this.#registry = registry;
    this.#recent = new RecentIds(place.capacity, place.recentIds);
    // The table starts empty: the ids this encoder remembers are all the chain has.
    this.#positions = new ChainPositions(place.position, new Set(), this.#recent);
  }

  place(): ChainPlace {
    return { position: this.#positions.position, recentIds: this.#recent.ids(), capacity: this.#recent.capacity };
  }

  encode(batch: StoredMessages): AuditRowsText {
    const hashInputs = new ByteWriter(batch.payloads.length + batch.count * prevHashBytes);
    const copy = new ByteWriter(batch.payloads.length + batch.count * hashSlotBytes);
    const hashInputEnds = new Uint32Array(batch.count);
    const hashSlots = new Uint32Array(batch.count);
    let rows = 0;
    let rejected = 0;
    for (let i = 0, from = 0; i < batch.count; i++) {
      const to = batch.ends[i] ?? from;
      const read = this.#registry.read(batch.payloads.subarray(from, to));
      from = to;
      if (!read.ok) {
        rejected++;
        continue;
      }
      const entry = entryOf(batch.seqs[i] ?? 0, batch.subjects[i] ?? '', read.event);
      const position = entry && this.#positions.place(entry);
      if (!entry || position === undefined) continue;
      const details = canonicalJson(entry.details);
      hashInputs.room(prevHashBytes);
      hashInputs.text(canonicalEntryJson(entry, position, details));
      hashInputEnds[rows] = hashInputs.length;
      copy.text(copyLineStart(entry, position, details));
      hashSlots[rows] = copy.length;
      copy.room(hashSlotBytes, [hashHex, 0x09], [hashSlotBytes - 1, 0x0a]);
      rows++;
    }
    return { rows, rejected, hashInputs: hashInputs.written(), hashInputEnds, copy: copy.written(), hashSlots };
  }
}

/**
 * Hashes a batch's rows in order from `head` (the hash of the record before the first), writing each row's prev_hash
 * and hash into its COPY line; answers the chain's new head.
 */
export function linkChain(head: ChainHead, text: AuditRowsText): ChainHead {
  const inputs = Buffer.from(text.hashInputs.buffer, text.hashInputs.byteOffset, text.hashInputs.byteLength);
  const copy = Buffer.from(text.copy.buffer, text.copy.byteOffset, text.copy.byteLength);
  let prevHash = head.hash;
  for (let i = 0, from = 0; i < text.rows; i++) {
    const to = text.hashInputEnds[i] ?? from;
    const hash = chainHashOfInput(prevHash, inputs.subarray(from, to));
    const slot = text.hashSlots[i] ?? 0;
    copy.write(prevHash, slot, hashHex, 'latin1');
    copy.write(hash, slot + hashHex + 1, hashHex, 'latin1');
    prevHash = hash;
    from = to;
  }
  return { position: head.position + text.rows, hash: prevHash };
}

/** The buffers of a batch of rows, to transfer rather than copy. */
export function buffersOf(text: AuditRowsText): ArrayBuffer[] {
  return [text.hashInputs.buffer, text.hashInputEnds.buffer, text.copy.buffer, text.hashSlots.buffer];
}

// What crosses between the threads, checked on arrival (a message is `unknown` to the receiver).

/** A batch for the worker; the first one it gets carries the place in the chain to go on from. */
export interface RowsRequest {
  readonly batch: StoredMessages;
  readonly place?: ChainPlace;
}

export type RowsReply = { readonly ready: true } | { readonly text: AuditRowsText } | { readonly failure: string };

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null;

function isStoredMessages(value: unknown): value is StoredMessages {
  return (
    isObject(value) &&
    'count' in value &&
    typeof value.count === 'number' &&
    'seqs' in value &&
    value.seqs instanceof Float64Array &&
    'subjects' in value &&
    Array.isArray(value.subjects) &&
    value.subjects.every((s) => typeof s === 'string') &&
    'payloads' in value &&
    value.payloads instanceof Uint8Array &&
    'ends' in value &&
    value.ends instanceof Uint32Array
  );
}

function isChainPlace(value: unknown): value is ChainPlace {
  return (
    isObject(value) &&
    'position' in value &&
    typeof value.position === 'number' &&
    'capacity' in value &&
    typeof value.capacity === 'number' &&
    'recentIds' in value &&
    Array.isArray(value.recentIds) &&
    value.recentIds.every((id) => typeof id === 'string')
  );
}

export function isRowsRequest(value: unknown): value is RowsRequest {
  return isObject(value) && 'batch' in value && isStoredMessages(value.batch) && (!('place' in value) || value.place === undefined || isChainPlace(value.place));
}

function isRowsText(value: unknown): value is AuditRowsText {
  return (
    isObject(value) &&
    'rows' in value &&
    typeof value.rows === 'number' &&
    'rejected' in value &&
    typeof value.rejected === 'number' &&
    'hashInputs' in value &&
    value.hashInputs instanceof Uint8Array &&
    'hashInputEnds' in value &&
    value.hashInputEnds instanceof Uint32Array &&
    'copy' in value &&
    value.copy instanceof Uint8Array &&
    'hashSlots' in value &&
    value.hashSlots instanceof Uint32Array
  );
}

export function isRowsReply(value: unknown): value is RowsReply {
  if (!isObject(value)) return false;
  if ('ready' in value) return value.ready === true;
  if ('failure' in value) return typeof value.failure === 'string';
  return 'text' in value && isRowsText(value.text);
}
