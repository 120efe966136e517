// Reading a stream as it was recorded, in order, without touching any durable consumer: the replay and verify
// tooling's one way in. An ordered consumer is ephemeral, flow-controlled and resets itself on a gap.
import { DeliverPolicy, type OrderedConsumerOptions } from '@nats-io/jetstream';
import type { Bus, Delivery } from '@vigil/bus';
import type { AnyEnvelope } from '@vigil/schemas';

export interface StoredMessage {
  readonly seq: number;
  /** The plain subject (without namespace). */
  readonly subject: string;
  /** When the server stored it. */
  readonly time: Date;
  readonly data: Uint8Array;
}

export interface ReadOptions {
  /** First sequence to read (default 1). */
  readonly fromSeq?: number;
  /** Read from the first message stored at or after this time instead. */
  readonly since?: Date;
  /** Last sequence to read; default the stream's last sequence when the read starts. */
  readonly untilSeq?: number;
  /** A plain subject filter. */
  readonly filterSubject?: string;
}

/** The messages of a stream (a plain stream name such as `AUDIT`) from a position up to the end as it was at start. */
export async function* readStream(bus: Bus, stream: string, options: ReadOptions = {}): AsyncGenerator<StoredMessage> {
  const name = bus.names.stream(stream);
  const info = await bus.jsm.streams.info(name);
  const untilSeq = Math.min(options.untilSeq ?? info.state.last_seq, info.state.last_seq);
  const fromSeq = Math.max(options.fromSeq ?? 1, info.state.first_seq);
  if (info.state.messages === 0 || fromSeq > untilSeq) return;
  const start: Partial<OrderedConsumerOptions> = options.since
    ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: options.since.toISOString() }
    : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq };
  const consumer = await bus.js.consumers.get(name, { ...start, ...(options.filterSubject ? { filter_subjects: bus.names.subject(options.filterSubject) } : {}) });
  // Nothing to deliver (a filter or a start time past the end): consume() would wait for messages that never come.
  if ((await consumer.info()).num_pending === 0) {
    await consumer.delete().catch(() => false);
    return;
  }
  const messages = await consumer.consume({ max_messages: 4096 });
  try {
    for await (const m of messages) {
      if (m.seq > untilSeq) break;
      yield { seq: m.seq, subject: bus.names.plain(m.subject), time: m.time, data: m.data };
      if (m.seq >= untilSeq || m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
}

/** Groups messages into arrays of at most `size` (a batch per transaction, a page of output). */
export async function* inBatches<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of source) {
    batch.push(item);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

const decoder = new TextDecoder();

/** A stored message's event when it is one this process knows and it validates; undefined otherwise. */
export function parseStoredEvent(bus: Bus, data: Uint8Array): AnyEnvelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  const validation = bus.registry.validate(value);
  return validation.ok ? validation.event : undefined;
}

/**
 * A stream's valid events as a projector sees them, in batches: messages that fail validation are skipped, as the
 * projector terminates them. For rebuilding a projection outside its projector (a scratch schema, a benchmark).
 */
export async function* readDeliveries(bus: Bus, stream: string, options: ReadOptions & { batchSize?: number } = {}): AsyncGenerator<Delivery[]> {
  for await (const batch of inBatches(readStream(bus, stream, options), options.batchSize ?? 1000)) {
    const deliveries: Delivery[] = [];
    for (const m of batch) {
      const event = parseStoredEvent(bus, m.data);
      if (event) deliveries.push({ event, seq: m.seq, subject: m.subject, deliveryCount: 1 });
    }
    if (deliveries.length > 0) yield deliveries;
  }
}
