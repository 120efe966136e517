// `vigil audit verify`: the chain recomputed from the AUDIT stream, compared record by record with the audit_log
// table, whose own links and hashes are checked as it is read, and every checkpoint on the stream checked against
// both. Stops at the first broken link.
import type { Bus } from '@vigil/bus';
import { StreamName } from '@vigil/schemas';
import { readCheckpoint, type Database } from '@vigil/store';
import {
  ChainBuilder,
  checkCheckpoint,
  checkpointOf,
  compareWithStream,
  entryOf,
  StoredChainCheck,
  type ChainBreak,
  type ChainedRecord,
} from './chain.ts';
import { readAuditLog } from './audit-log-reader.ts';
import { auditProjection, recordOfRow } from './projection.ts';
import { parseStoredEvent, readStream } from './stream-reader.ts';

export interface VerifyReport {
  readonly intact: boolean;
  /** Records of the table checked (all of them when intact). */
  readonly records: number;
  /** AUDIT sequence of the last record checked. */
  readonly lastSeq: number;
  readonly headHash: string;
  readonly checkpoints: number;
  /** Records on the stream the projection has not applied yet (not compared). */
  readonly pending: number;
  readonly break?: ChainBreak;
}

export interface VerifyOptions {
  /** Called now and then with the stream sequence reached and the last one to read. */
  readonly onProgress?: (seq: number, lastSeq: number) => void;
}

interface Position {
  readonly seq: number;
  readonly hash: string;
}


export async function verifyAudit(bus: Bus, database: Database, options: VerifyOptions = {}): Promise<VerifyReport> {
  const applied = await readCheckpoint(database, auditProjection.name);
  const lastSeq = (await bus.jsm.streams.info(bus.names.stream(StreamName.Audit))).state.last_seq;
  const rows = readAuditLog(database)[Symbol.asyncIterator]();
  const stored = new StoredChainCheck();
  const chain = new ChainBuilder();
  // Hashes by position (index position - 1), from the stream and from the table, for the checkpoints that follow.
  const streamHashes: Position[] = [];
  const tableHashes: Position[] = [];
  let checkpoints = 0;
  let pending = 0;
  let lastChecked: ChainedRecord | undefined;

  const report = (found?: ChainBreak): VerifyReport => ({
    intact: found === undefined,
    records: stored.head.position,
    lastSeq: lastChecked?.seq ?? 0,
    headHash: stored.head.hash,
    checkpoints,
    pending,
    ...(found ? { break: found } : {}),
  });

  const nextRow = async (): Promise<{ row?: ChainedRecord; problem?: ChainBreak }> => {
    const next = await rows.next();
    if (next.done) return {};
    const row = recordOfRow(next.value);
    const problem = stored.push(row);
    if (problem) return { problem };
    tableHashes.push({ seq: row.seq, hash: row.hash });
    lastChecked = row;
    return { row };
  };

  for await (const m of readStream(bus, StreamName.Audit)) {
    if (m.seq % 1000 === 0) options.onProgress?.(m.seq, lastSeq);
    // A message no consumer can read was terminated and reported by the projector, never recorded: skip it too.
    const event = parseStoredEvent(bus, m.data);
    if (!event) continue;
    const checkpoint = checkpointOf(m.seq, event);
    if (checkpoint) {
      checkpoints++;
      const problem =
        checkCheckpoint(checkpoint, streamHashes[checkpoint.position - 1], 'chain recomputed from the stream') ??
        (tableHashes[checkpoint.position - 1] || pending === 0 ? checkCheckpoint(checkpoint, tableHashes[checkpoint.position - 1], 'audit_log table') : undefined);
      if (problem) return report(problem);
      continue;
    }
    const entry = entryOf(m.seq, m.subject, event);
    const expected = entry ? chain.append(entry) : undefined;
    if (!expected) continue;
    streamHashes.push({ seq: expected.seq, hash: expected.hash });
    if (pending > 0) {
      pending++;
      continue;
    }
    const { row, problem } = await nextRow();
    if (problem) return report(problem);
    if (!row && expected.seq > applied) {
      // The projection has not got this far yet; what follows is compared on a later run.
      pending++;
      continue;
    }
    const difference = compareWithStream(expected, row);
    if (difference) return report(difference);
  }
  options.onProgress?.(lastSeq, lastSeq);
  // Rows past the stream's end: fine when projected after this read began, a forgery when the stream had them.
  for (;;) {
    const { row, problem } = await nextRow();
    if (problem) return report(problem);
    if (!row) break;
    if (row.seq <= lastSeq) {
      return report({ position: row.position, seq: row.seq, problem: 'record in the table is not on the stream', expected: 'no record', found: row.hash });
    }
  }
  return report();
}

export function describeReport(r: VerifyReport): string {
  if (r.break) {
    const b = r.break;
    return [
      `broken at record ${b.position}${b.seq === null ? '' : ` (seq ${b.seq})`}: ${b.problem}`,
      `  expected: ${b.expected}`,
      `  found:    ${b.found}`,
      `  ${r.records} records before it are intact`,
    ].join('\n');
  }
  const pending = r.pending > 0 ? `; ${r.pending} records on the stream not projected yet` : '';
  return `intact: ${r.records} records up to seq ${r.lastSeq}, head hash ${r.headHash} (${r.checkpoints} checkpoints verified; table and stream agree${pending})`;
}
