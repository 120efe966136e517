// Publishing the chain's checkpoints back to AUDIT: after each commit, every multiple of the interval the chain has
// passed and the stream has no checkpoint for yet. Positions are fixed multiples, the id is derived from position
// and hash, and the append expects the last checkpoint it read, so replicas, retries and rebuilds never add a
// second checkpoint for one position.
import { append, ConcurrencyError, type Bus } from '@vigil/bus';
import type { Logger } from '@vigil/log';
import { ChainCheckpointed, type EventOf } from '@vigil/schemas';
import type { Database } from '@vigil/store';
import { chainAlgorithm, checkpointOf, type Checkpoint } from './chain.ts';
import { derivedId } from '@vigil/crypto';
import { readChainHead, readRecordAt } from './projection.ts';

/** Checkpoints have a subject of their own, so the last one is a single lookup and appends can expect it. */
export const checkpointSubject = 'audit._platform.chain';

const decoder = new TextDecoder();

/** The last checkpoint on the stream, or undefined when there is none. */
export async function lastCheckpoint(bus: Bus): Promise<Checkpoint | undefined> {
  const stream = bus.names.stream(ChainCheckpointed.stream);
  const last = await bus.jsm.streams.getMessage(stream, { last_by_subj: bus.names.subject(checkpointSubject) }).catch(() => null);
  if (!last) return undefined;
  const validation = bus.registry.validate(JSON.parse(decoder.decode(last.data)));
  return validation.ok ? checkpointOf(last.seq, validation.event) : undefined;
}

export function checkpointEvent(position: number, seq: number, hash: string, now = new Date()): EventOf<typeof ChainCheckpointed> {
  return {
    id: derivedId('audit.checkpoint', `${position}:${hash}`),
    type: ChainCheckpointed.type,
    v: ChainCheckpointed.v,
    at: now.toISOString(),
    actor: { kind: 'service', id: 'audit' },
    correlation_id: `audit-checkpoint-${position}`,
    data: { category: 'system', severity: 'info', algorithm: chainAlgorithm, position, seq, hash },
  };
}

export interface CheckpointPublisher {
  /** Asks for a check; checks run one at a time, in order. */
  request(): void;
  /** Resolves when the checks asked for so far are done. */
  settled(): Promise<void>;
}

export function checkpointPublisher(bus: Bus, database: Database, every: number, logger: Logger): CheckpointPublisher {
  // The highest position known to have a checkpoint on the stream; -1 until the stream has been asked.
  let published = -1;
  let queue: Promise<void> = Promise.resolve();

  const check = async () => {
    const head = await readChainHead(database.db);
    if (head.position < every || Math.floor(head.position / every) * every <= published) return;
    let last = await lastCheckpoint(bus);
    published = last?.position ?? 0;
    for (let position = (Math.floor(published / every) + 1) * every; position <= head.position; position += every) {
      const record = await readRecordAt(database.db, position);
      if (!record) return;
      try {
        const appended = await append(bus, checkpointSubject, checkpointEvent(position, record.seq, record.hash), { expectedLastSubjectSequence: last?.streamSeq ?? 0 });
        last = { streamSeq: appended.seq, position, seq: record.seq, hash: record.hash };
        published = position;
        logger.info({ position, seq: record.seq, hash: record.hash }, 'audit chain checkpoint published');
      } catch (err) {
        // Another replica published first: the next check starts from what it published.
        if (err instanceof ConcurrencyError) {
          published = -1;
          return;
        }
        throw err;
      }
    }
  };

  return {
    request() {
      queue = queue.then(check).catch((err: unknown) => logger.error({ err }, 'audit checkpoint failed; the next commit retries'));
    },
    settled: () => queue,
  };
}
