import type { JsMsg } from '@nats-io/jetstream';
import { MessageRejected, type DataOf } from '@vigil/schemas';
import { append } from './append.ts';
import type { Bus } from './connection.ts';
import { createEvent } from './events.ts';

export type RejectionReason = DataOf<typeof MessageRejected>['reason'];

/** Parses and validates a stream message: the event, or why it can never be processed. */
export function readMessage(bus: Bus, m: JsMsg) {
  return bus.registry.read(m.data);
}

/** Counts of terminated messages by consumer, for /metrics. */
export const rejectionCounts = new Map<string, number>();

/**
 * Terminates a message that can never be processed and reports it on AUDIT, so it neither loops nor vanishes
 * silently. The payload is not copied into the report: it may hold a secret.
 */
export async function rejectMessage(bus: Bus, consumer: string, m: JsMsg, reason: RejectionReason, problems: readonly string[]): Promise<void> {
  m.term(reason);
  rejectionCounts.set(consumer, (rejectionCounts.get(consumer) ?? 0) + 1);
  bus.logger.warn({ consumer, stream: m.info.stream, stream_seq: m.seq, reason, category: 'system' }, 'message terminated');
  const event = createEvent(
    MessageRejected,
    {
      category: 'system',
      severity: 'warning',
      consumer,
      stream: m.info.stream,
      stream_seq: m.seq,
      subject: bus.names.plain(m.subject),
      reason,
      problems: problems.slice(0, 20).map((p) => p.slice(0, 500)),
    },
    { actor: { kind: 'service', id: consumer } },
  );
  try {
    await append(bus, 'audit._platform.system', event);
  } catch (err) {
    bus.logger.error({ err, consumer, stream_seq: m.seq }, 'could not report a terminated message on AUDIT');
  }
}
