import { foldEvents, loadAggregate, type Decider } from './aggregate.ts';
import type { Bus } from './connection.ts';
import { isEventOf } from './events.ts';
import type { AnyEnvelope } from '@vigil/schemas';

/**
 * The last folded state of recently used aggregates, caught up from the stream on every read (only the events after
 * the cached sequence are read, never the whole subject again). A read view for answering and for work done before
 * a decision (verifying a password against the stored hash), and the starting point of `handleCommand` when given
 * one: the decision still appends with the expected sequence, so a stale entry costs a retry, never a wrong write.
 */
export class AggregateCache<Command, State, Event extends AnyEnvelope> {
  readonly #bus: Bus;
  readonly #decider: Decider<Command, State, Event>;
  readonly #entries = new Map<string, { state: State; seq: number }>();
  readonly #capacity: number;

  constructor(bus: Bus, decider: Decider<Command, State, Event>, capacity = 10_000) {
    this.#bus = bus;
    this.#decider = decider;
    this.#capacity = capacity;
  }

  async read(subject: string): Promise<{ state: State; seq: number }> {
    const cached = this.#entries.get(subject);
    const loaded = await loadAggregate(this.#bus, subject, cached ? { afterSeq: cached.seq } : {});
    const isEvent = (e: AnyEnvelope): e is Event => isEventOf(this.#decider.events, e);
    const state = foldEvents(this.#decider, isEvent, cached?.state ?? this.#decider.initialState(), loaded.events);
    const entry = { state, seq: loaded.lastSequence };
    this.#entries.delete(subject);
    this.#entries.set(subject, entry);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return entry;
  }

  /**
   * The state this cache holds of a subject, without asking the stream whether it is still the last: a command may
   * decide on it and append expecting its sequence, since the stream refuses the append when it is stale.
   */
  peek(subject: string): { state: State; seq: number } | undefined {
    return this.#entries.get(subject);
  }

  /** Records a state a command just produced, so the next read starts from it. */
  remember(subject: string, state: State, seq: number): void {
    const cached = this.#entries.get(subject);
    if (!cached || cached.seq < seq) this.#entries.set(subject, { state, seq });
  }
}
