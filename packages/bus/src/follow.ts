import { DeliverPolicy } from '@nats-io/jetstream';
import type { AnyEnvelope } from '@vigil/schemas';
import type { Bus } from './connection.ts';
import { readMessage } from './rejections.ts';
import { streamForSubject } from './streams.ts';

export interface FollowedEvent {
  readonly event: AnyEnvelope;
  readonly seq: number;
  readonly subject: string;
}

export interface Following {
  /** Resolves once every event stored when following began has been seen. */
  readonly caughtUp: Promise<void>;
  /** The stream sequence of the last event seen. */
  lastSeq(): number;
  /** Resolves once an event at or after `seq` has been seen (read-your-writes after an append). */
  reach(seq: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FollowOptions {
  /**
   * `start` (default): every stored event, then new ones. `now`: only events appended after following began, for
   * work that must not be redone at start (delivering device commands); `caughtUp` is then resolved at once.
   */
  readonly from?: 'start' | 'now';
}

/**
 * Keeps an in-memory view current: an ordered consumer (no server-side state, in order, restarted by the client
 * on gaps) delivering every event under one plain subject filter, from the start, then as they are appended.
 * Invalid messages are skipped here: durable consumers are the ones that report them.
 */
export async function followEvents(bus: Bus, filter: string, onEvent: (e: FollowedEvent) => void, options: FollowOptions = {}): Promise<Following> {
  const stream = bus.names.stream(streamForSubject(filter).name);
  const fromNow = options.from === 'now';
  const consumer = await bus.js.consumers.get(stream, { filter_subjects: bus.names.subject(filter), deliver_policy: fromNow ? DeliverPolicy.New : DeliverPolicy.All });
  const info = await bus.jsm.streams.info(stream);
  let last = 0;
  const waiters = new Set<{ seq: number; resolve: () => void }>();
  let markCaughtUp: () => void = () => {};
  const caughtUp = new Promise<void>((resolve) => {
    markCaughtUp = resolve;
  });
  // An empty filter has nothing to catch up on; a stream's last sequence bounds what "stored when we began" means.
  const initialLast = info.state.last_seq;
  if (info.state.messages === 0 || fromNow) markCaughtUp();
  const messages = await consumer.consume();
  const loop = (async () => {
    for await (const m of messages) {
      last = m.seq;
      const read = readMessage(bus, m);
      if (read.ok) onEvent({ event: read.event, seq: m.seq, subject: bus.names.plain(m.subject) });
      if (m.info.pending === 0 || m.seq >= initialLast) markCaughtUp();
      for (const w of waiters) {
        if (last >= w.seq) {
          waiters.delete(w);
          w.resolve();
        }
      }
    }
  })();
  // With a filter, the stream may hold nothing for us: the first heartbeat-free check is the pending count.
  void consumer.info(true).then((ci) => {
    if (ci.num_pending === 0) markCaughtUp();
  }, () => {});
  return {
    caughtUp,
    lastSeq: () => last,
    reach(seq, timeoutMs = 5000) {
      if (last >= seq) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const w = { seq, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${filter}: sequence ${seq} not seen within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async stop() {
      await messages.close();
      await loop;
    },
  };
}
