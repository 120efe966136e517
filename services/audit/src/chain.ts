// The audit hash chain, free of I/O: what a record is, how it is hashed, how a chain is built and checked. The
// projector, `vigil audit verify` and the README's algorithm for auditors all mean exactly this module.
import { hash } from 'node:crypto';
import { ChainCheckpointed, type AnyEnvelope } from '@vigil/schemas';
import { canonicalJson, canonicalNumber, canonicalString } from './canonical-json.ts';

export { canonicalJson };

/** The name auditors find in checkpoints and exports: SHA-256 over prev_hash ‖ RFC 8785 JSON of the record. */
export const chainAlgorithm = 'sha256-jcs-v1';

/** The `prev_hash` of the first record: 32 zero bytes. */
export const genesisHash = '0'.repeat(64);

export type JsonObject = { readonly [key: string]: unknown };

/** One record of the chain: every field here, and nothing else, is hashed. */
export interface AuditRecord {
  /** The record's number in the chain, from 1. */
  readonly position: number;
  /** Its AUDIT stream sequence. */
  readonly seq: number;
  readonly event_id: string;
  readonly type: string;
  readonly v: number;
  /** The event's time as UTC ISO 8601 to the millisecond (`new Date(at).toISOString()`). */
  readonly at: string;
  readonly tenant: string | null;
  readonly actor: { readonly kind: string; readonly id: string };
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly category: string;
  readonly severity: string;
  /** The AUDIT subject the event was appended to. */
  readonly subject: string;
  /** The event's data less `category` and `severity`. */
  readonly details: JsonObject;
}

export interface ChainedRecord extends AuditRecord {
  readonly prev_hash: string;
  readonly hash: string;
}

/** An AUDIT event before the chain gives it a position. */
export type AuditEntry = Omit<AuditRecord, 'position'>;

export interface ChainHead {
  readonly position: number;
  readonly hash: string;
}

export const emptyChain: ChainHead = { position: 0, hash: genesisHash };

/** The fields of a record, in a fresh object: a chained record's hashes must not hash themselves. */
export function recordFields(r: AuditRecord): AuditRecord {
  return {
    position: r.position,
    seq: r.seq,
    event_id: r.event_id,
    type: r.type,
    v: r.v,
    at: r.at,
    tenant: r.tenant,
    actor: { kind: r.actor.kind, id: r.actor.id },
    correlation_id: r.correlation_id,
    causation_id: r.causation_id,
    category: r.category,
    severity: r.severity,
    subject: r.subject,
    details: r.details,
  };
}

const nullable = (value: string | null) => (value === null ? 'null' : canonicalString(value));

// The text of fields that take few values (type, category, severity, subject, tenant, actor kind), remembered up to
// a bound: looking it up costs less than writing it again for every record.
const fewValues = new Map<string, string>();
function canonicalFew(value: string): string {
  let text = fewValues.get(value);
  if (text === undefined) {
    text = canonicalString(value);
    if (fewValues.size < 4096) fewValues.set(value, text);
  }
  return text;
}
const fewOrNull = (value: string | null) => (value === null ? 'null' : canonicalFew(value));

/**
 * JCS of the record made of `fields` at `position`, written field by field in RFC 8785 order (the keys of
 * AuditRecord sorted by UTF-16 code units): the same text as `canonicalJson(recordFields(record))`, which a property
 * test holds it to, without building the record or sorting its keys once per record. `details` is the canonical
 * JSON of `fields.details`, for a caller that needs that text as well (the bulk rebuild's COPY line).
 */
export function canonicalEntryJson(fields: AuditEntry, position: number, details = canonicalJson(fields.details)): string {
  return (
    `{"actor":{"id":${canonicalString(fields.actor.id)},"kind":${canonicalFew(fields.actor.kind)}}` +
    `,"at":${canonicalString(fields.at)}` +
    `,"category":${canonicalFew(fields.category)}` +
    `,"causation_id":${nullable(fields.causation_id)}` +
    `,"correlation_id":${canonicalString(fields.correlation_id)}` +
    `,"details":${details}` +
    `,"event_id":${canonicalString(fields.event_id)}` +
    `,"position":${canonicalNumber(position)}` +
    `,"seq":${canonicalNumber(fields.seq)}` +
    `,"severity":${canonicalFew(fields.severity)}` +
    `,"subject":${canonicalFew(fields.subject)}` +
    `,"tenant":${fewOrNull(fields.tenant)}` +
    `,"type":${canonicalFew(fields.type)}` +
    `,"v":${canonicalNumber(fields.v)}}`
  );
}

/** The canonical JSON (RFC 8785) of a record's fields: what its hash covers. */
export function canonicalRecordJson(record: AuditRecord): string {
  return canonicalEntryJson(record, record.position);
}

// One buffer for every hash input (prev_hash bytes, then the record's UTF-8), grown when a record needs more: the
// hashing is synchronous, so nothing else writes it in between.
let hashInput = Buffer.allocUnsafe(16 * 1024);

function digest(prevHash: string, json: string): string {
  // At most 3 UTF-8 bytes per UTF-16 code unit.
  const capacity = Math.ceil(prevHash.length / 2) + json.length * 3;
  if (hashInput.length < capacity) hashInput = Buffer.allocUnsafe(Math.max(capacity, hashInput.length * 2));
  // As Buffer.from(prevHash, 'hex'): the bytes up to the first character that is not hex.
  const prevBytes = hashInput.write(prevHash, 0, 'hex');
  const length = prevBytes + hashInput.write(json, prevBytes, 'utf8');
  return hash('sha256', hashInput.subarray(0, length), 'hex');
}

/** `SHA-256(bytes of prev_hash ‖ UTF-8 of JCS(record))`, lowercase hex. */
export function chainHash(prevHash: string, record: AuditRecord): string {
  return digest(prevHash, canonicalEntryJson(record, record.position));
}

/** Bytes of prev_hash at the start of a hash input: SHA-256's 32, the 64 hex digits as bytes. */
export const prevHashBytes = 32;

/**
 * The hash of a record whose hash input was laid out beforehand, possibly on another thread: `input` holds
 * prevHashBytes bytes of room, then the UTF-8 of the record's canonical JSON (`canonicalEntryJson`). `prevHash` (a
 * hash this chain computed: 64 hex digits) is written into the room, and the whole is hashed as `digest` does.
 */
export function chainHashOfInput(prevHash: string, input: Buffer): string {
  if (input.write(prevHash, 0, prevHashBytes, 'hex') !== prevHashBytes) throw new Error(`not a chain hash: ${prevHash}`);
  return hash('sha256', input, 'hex');
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const categories = new Set(['authentication', 'authorization', 'key_access', 'certificate_validation', 'device_access', 'administration', 'system']);
const severities = new Set(['info', 'notice', 'warning', 'critical']);

/**
 * The chain entry of an AUDIT event, or undefined for a checkpoint (a statement about the chain, not part of it).
 * Every AUDIT event declares `category` and `severity` in its data; an event that does not is filed as system/info.
 */
export function entryOf(seq: number, subject: string, event: AnyEnvelope): AuditEntry | undefined {
  // The type compared first: the schema check then runs for checkpoints only, not once more for every record.
  if (event.type === ChainCheckpointed.type && ChainCheckpointed.is(event)) return undefined;
  const data: JsonObject = isJsonObject(event.data) ? event.data : { data: event.data };
  const { category, severity, ...details } = data;
  return {
    seq,
    event_id: event.id,
    type: event.type,
    v: event.v,
    at: new Date(event.at).toISOString(),
    tenant: event.tenant ?? null,
    actor: { kind: event.actor.kind, id: event.actor.id },
    correlation_id: event.correlation_id,
    causation_id: event.causation_id ?? null,
    category: typeof category === 'string' && categories.has(category) ? category : 'system',
    severity: typeof severity === 'string' && severities.has(severity) ? severity : 'info',
    subject,
    details,
  };
}

/** A checkpoint event's claim: the chain's record at `position` (stream `seq`) has `hash`. */
export interface Checkpoint {
  /** The AUDIT stream sequence of the checkpoint event itself. */
  readonly streamSeq: number;
  readonly position: number;
  readonly seq: number;
  readonly hash: string;
}

export function checkpointOf(streamSeq: number, event: AnyEnvelope): Checkpoint | undefined {
  if (!ChainCheckpointed.is(event)) return undefined;
  return { streamSeq, position: event.data.position, seq: event.data.seq, hash: event.data.hash };
}

/**
 * Extends a chain one entry at a time. An event id already in the chain is skipped: a publish retried after the
 * server's duplicate window is stored twice on the stream, but it is one event and is recorded once.
 */
/** Event ids known to be in the chain already. */
export interface ChainedIds {
  has(eventId: string): boolean;
}

/** Where a builder remembers the ids it chains: every one (a Set), or the most recent ones (RecentIds). */
export interface ChainMemory extends ChainedIds {
  add(eventId: string): unknown;
}

/**
 * The event ids chained most recently, at most `capacity` of them, for a builder that runs through a whole stream
 * (a rebuild) in bounded memory. A duplicate is a publish retried after the server's deduplication window, so it
 * lies close behind the first; one further back is not seen here, and the unique event_id of audit_log refuses it.
 */
export class RecentIds implements ChainMemory {
  readonly #ids = new Set<string>();
  readonly #order: (string | undefined)[];
  #next = 0;

  /** `ids`: ids chained before, oldest first (what `ids()` of another RecentIds answered). */
  constructor(
    readonly capacity: number,
    ids: Iterable<string> = [],
  ) {
    this.#order = new Array<string | undefined>(capacity).fill(undefined);
    for (const id of ids) this.add(id);
  }

  has(eventId: string): boolean {
    return this.#ids.has(eventId);
  }

  /** The ids remembered, oldest first. */
  ids(): string[] {
    const ids: string[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const id = this.#order[(this.#next + i) % this.capacity];
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  /** Remembers an id the builder has just chained (so not one it remembers already). */
  add(eventId: string): void {
    const evicted = this.#order[this.#next];
    if (evicted !== undefined) this.#ids.delete(evicted);
    this.#order[this.#next] = eventId;
    this.#next = (this.#next + 1) % this.capacity;
    this.#ids.add(eventId);
  }
}

/**
 * Which entries a chain records, and at what position: the next position for an event id not chained yet, none for
 * one already chained. The half of a chain that does not depend on hashes, so a bulk rebuild can run it on a worker
 * thread while the thread that holds the head does the hashing (ChainBuilder does both, one entry at a time).
 */
export class ChainPositions {
  #position: number;
  readonly #alreadyChained: ChainedIds;
  readonly #chained: ChainMemory;

  constructor(position: number, alreadyChained: ChainedIds, chained: ChainMemory) {
    this.#position = position;
    this.#alreadyChained = alreadyChained;
    this.#chained = chained;
  }

  /** The position of the last entry placed. */
  get position(): number {
    return this.#position;
  }

  /** The position of `entry` in the chain, or undefined when its event id is in the chain already. */
  place(entry: AuditEntry): number | undefined {
    if (this.#alreadyChained.has(entry.event_id) || this.#chained.has(entry.event_id)) return undefined;
    this.#chained.add(entry.event_id);
    return ++this.#position;
  }
}

export class ChainBuilder {
  #head: ChainHead;
  readonly #positions: ChainPositions;

  /**
   * `alreadyChained`: ids known to be in the chain before `head` (the projector asks the table for a batch's ids);
   * `chained`: where the ids this builder chains are kept (by default all of them).
   */
  constructor(head: ChainHead = emptyChain, alreadyChained: ChainedIds = new Set(), chained: ChainMemory = new Set<string>()) {
    this.#head = head;
    this.#positions = new ChainPositions(head.position, alreadyChained, chained);
  }

  get head(): ChainHead {
    return this.#head;
  }

  append(entry: AuditEntry): ChainedRecord | undefined {
    const position = this.#positions.place(entry);
    if (position === undefined) return undefined;
    const prevHash = this.#head.hash;
    const hash = digest(prevHash, canonicalEntryJson(entry, position));
    // Built field by field (not spread from the entry): only a record's own fields are chained or returned.
    const chained: ChainedRecord = {
      position,
      seq: entry.seq,
      event_id: entry.event_id,
      type: entry.type,
      v: entry.v,
      at: entry.at,
      tenant: entry.tenant,
      actor: { kind: entry.actor.kind, id: entry.actor.id },
      correlation_id: entry.correlation_id,
      causation_id: entry.causation_id,
      category: entry.category,
      severity: entry.severity,
      subject: entry.subject,
      details: entry.details,
      prev_hash: prevHash,
      hash,
    };
    this.#head = { position, hash };
    return chained;
  }
}

/** The first broken link found: which record, what was expected there and what was found. */
export interface ChainBreak {
  readonly position: number;
  readonly seq: number | null;
  readonly problem: string;
  readonly expected: string;
  readonly found: string;
}

/**
 * Checks a stored chain record by record, in position order: no record missing, each linked to the one before,
 * each hash the hash of its own content. Catches an edited row, rows moved, and a row deleted anywhere but at the
 * end (the end is checked against the stream and its checkpoints).
 */
export class StoredChainCheck {
  #head: ChainHead = emptyChain;

  get head(): ChainHead {
    return this.#head;
  }

  push(row: ChainedRecord): ChainBreak | undefined {
    const wanted = this.#head.position + 1;
    if (row.position !== wanted) {
      return { position: wanted, seq: null, problem: `record ${wanted} is missing`, expected: `position ${wanted}`, found: `position ${row.position} (seq ${row.seq})` };
    }
    if (row.prev_hash !== this.#head.hash) {
      return { position: row.position, seq: row.seq, problem: 'prev_hash does not link to the record before', expected: this.#head.hash, found: row.prev_hash };
    }
    const hash = chainHash(row.prev_hash, row);
    if (hash !== row.hash) {
      return { position: row.position, seq: row.seq, problem: 'content does not match its hash', expected: hash, found: row.hash };
    }
    this.#head = { position: row.position, hash: row.hash };
    return undefined;
  }
}

/** Compares a stored record with the one recomputed from the stream at the same position. */
export function compareWithStream(fromStream: ChainedRecord, stored: ChainedRecord | undefined): ChainBreak | undefined {
  if (!stored) {
    return { position: fromStream.position, seq: fromStream.seq, problem: 'record on the stream is missing from the table', expected: fromStream.hash, found: 'no record' };
  }
  if (stored.seq !== fromStream.seq || stored.hash !== fromStream.hash) {
    return {
      position: fromStream.position,
      seq: fromStream.seq,
      problem: stored.seq === fromStream.seq ? 'record differs from the stream' : `table has seq ${stored.seq} where the stream has seq ${fromStream.seq}`,
      expected: fromStream.hash,
      found: stored.hash,
    };
  }
  return undefined;
}

/** Checks a checkpoint against the chain's hash at its position (undefined: the chain has no such record). */
export function checkCheckpoint(checkpoint: Checkpoint, recorded: { seq: number; hash: string } | undefined, where: string): ChainBreak | undefined {
  if (recorded && recorded.seq === checkpoint.seq && recorded.hash === checkpoint.hash) return undefined;
  return {
    position: checkpoint.position,
    seq: checkpoint.seq,
    problem: `checkpoint at stream seq ${checkpoint.streamSeq} does not match the ${where}`,
    expected: checkpoint.hash,
    found: recorded ? `${recorded.hash} (seq ${recorded.seq})` : 'no record',
  };
}
