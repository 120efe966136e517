import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type ConsumerConfig, type JsMsg } from '@nats-io/jetstream';
import { withContext } from '@vigil/log';
import type { AnyEnvelope, StreamName } from '@vigil/schemas';
import type { Bus } from './connection.ts';
import { readMessage, rejectMessage } from './rejections.ts';


export interface Delivery {
  readonly event: AnyEnvelope;
  readonly seq: number;
  /** The plain subject (without namespace). */
  readonly subject: string;
  readonly deliveryCount: number;
}

export interface ConsumerOptions {
  readonly stream: StreamName;
  /** The durable name; replicas with the same name share the work. */
  readonly durable: string;
  /** One plain subject filter (nats-server 2.9 allows one per consumer); default the whole stream. */
  readonly filterSubject?: string;
  /** Deliveries of a message before it is terminated and reported (default 5). */
  readonly maxDeliver?: number;
  /** Wait before each redelivery after a failure, in ms (the last value repeats). */
  readonly backoffMs?: readonly number[];
  readonly ackWaitMs?: number;
  /** Messages handled at once by this process. */
  readonly concurrency?: number;
}

export interface RunningConsumer {
  readonly name: string;
  /** Stops pulling, lets handlers in progress finish and ack. */
  stop(): Promise<void>;
  /** Messages not yet delivered, and delivered but not yet acked. */
  lag(): Promise<{ pending: number; ackPending: number }>;
}

/** Creates the durable consumer or brings its settings up to date. */
export async function ensureConsumer(bus: Bus, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
  try {
    await bus.jsm.consumers.info(stream, config.durable_name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    await bus.jsm.consumers.add(stream, config);
    return;
  }
  const { durable_name: _name, deliver_policy: _d, opt_start_seq: _s, ack_policy: _a, ...mutable } = config;
  await bus.jsm.consumers.update(stream, config.durable_name, mutable);
}

/**
 * A worker's durable consumer: explicit ack after the handler succeeds; a failure is redelivered with backoff;
 * a message that fails validation, or fails on its last allowed delivery, is terminated and reported on AUDIT.
 * Delivery is at least once and, after a failure, not in order: handlers must be idempotent. Read models that
 * need order and exactly-once use the projector runtime of `@vigil/store`.
 */
export async function startConsumer(bus: Bus, options: ConsumerOptions, handle: (delivery: Delivery) => Promise<void>): Promise<RunningConsumer> {
  const stream = bus.names.stream(options.stream);
  const name = bus.names.consumer(options.durable);
  const maxDeliver = options.maxDeliver ?? 5;
  const backoff = options.backoffMs ?? [250, 1000, 5000, 15_000];
  const concurrency = options.concurrency ?? 16;
  await ensureConsumer(bus, stream, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
    max_deliver: maxDeliver,
    max_ack_pending: concurrency * 64,
    ...(options.filterSubject ? { filter_subject: bus.names.subject(options.filterSubject) } : {}),
  });
  const logger = bus.logger.child({ consumer: name, stream });
  const consumer = await bus.js.consumers.get(stream, name);
  const messages = await consumer.consume({ max_messages: concurrency * 2 });
  const inFlight = new Set<Promise<void>>();

  const process = async (m: JsMsg): Promise<void> => {
    const read = readMessage(bus, m);
    if (!read.ok) return rejectMessage(bus, name, m, read.reason, read.problems);
    const delivery: Delivery = { event: read.event, seq: m.seq, subject: bus.names.plain(m.subject), deliveryCount: m.info.deliveryCount };
    try {
      await withContext({ correlationId: read.event.correlation_id }, () => handle(delivery));
      m.ack();
    } catch (err) {
      if (m.info.deliveryCount >= maxDeliver) {
        await rejectMessage(bus, name, m, 'max_deliveries', [err instanceof Error ? err.message : String(err)]);
        return;
      }
      logger.warn({ err, stream_seq: m.seq, delivery: m.info.deliveryCount }, 'handler failed; will retry');
      m.nak(backoff[Math.min(m.info.deliveryCount - 1, backoff.length - 1)]);
    }
  };

  const loop = (async () => {
    for await (const m of messages) {
      const p = process(m).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
  })();

  return {
    name,
    async stop() {
      await messages.close();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
    async lag() {
      const info = await bus.jsm.consumers.info(stream, name);
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
  };
}
