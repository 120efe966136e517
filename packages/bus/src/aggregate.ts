import { DeliverPolicy } from '@nats-io/jetstream';
import type { AnyEnvelope, EventDefinition } from '@vigil/schemas';
import { append, type Appended } from './append.ts';
import type { Bus } from './connection.ts';
import { ConcurrencyError, InvalidEventError } from './errors.ts';
import { envelope, isEventOf, type EventDraft, type EventMeta } from './events.ts';
import type { AggregateCache } from './aggregate-cache.ts';
import { streamForSubject } from './streams.ts';

export interface StoredEvent<E extends AnyEnvelope = AnyEnvelope> {
  readonly event: E;
  readonly seq: number;
}

export interface LoadedAggregate {
  readonly events: StoredEvent[];
  /** Stream sequence of the subject's last event; 0 when it has none. The value to expect on the next append. */
  readonly lastSequence: number;
}

const decoder = new TextDecoder();

/**
 * Events of one subject read by direct gets before a consumer takes over. A consumer costs the server a create and a
 * delete (about 0.5 ms of nats-server CPU here, and as much of ours); a direct get about 0.04 ms each. Most loads are
 * short (a session, an API key, a claim, a cached state catching up), and past about ten events the consumer wins.
 */
const directGetLimit = 8;

function storedEvent(bus: Bus, subject: string, seq: number, data: Uint8Array): StoredEvent {
  const validation = bus.registry.validate(JSON.parse(decoder.decode(data)));
  if (!validation.ok) throw new InvalidEventError(`${subject}#${seq}`, validation.problems.join('; '));
  return { event: validation.event, seq };
}

/**
 * Reads every event of one aggregate subject, in order (or those after `afterSeq`, to catch a cached state up).
 * Reads stop at the subject's last sequence as it was when the load began, so `lastSequence` matches the events.
 */
export async function loadAggregate(bus: Bus, subject: string, options: { afterSeq?: number } = {}): Promise<LoadedAggregate> {
  const stream = bus.names.stream(streamForSubject(subject).name);
  const full = bus.names.subject(subject);
  // From the stream's leader: the sequence every later append of this aggregate is checked against.
  const last = await bus.jsm.streams.getMessage(stream, { last_by_subj: full });
  const afterSeq = options.afterSeq ?? 0;
  if (!last) return { events: [], lastSequence: 0 };
  if (last.seq <= afterSeq) return { events: [], lastSequence: last.seq };
  const events: StoredEvent[] = [];
  let next = afterSeq + 1;
  for (let gets = 0; gets < directGetLimit; gets++) {
    // A direct get may be answered by a replica that lags: what it returns is right (it holds everything before), but
    // nothing returned may mean it lacks the event yet, so the consumer, on the leader, reads from there. So does a
    // get that fails: on a stream without direct gets it waits out the request timeout first (Vigil declares
    // allow_direct on every stream, and a worker's start restores it).
    const m = await bus.jsm.direct.getMessage(stream, { seq: next, next_by_subj: full }).catch(() => null);
    if (!m || m.seq > last.seq) break;
    events.push(storedEvent(bus, subject, m.seq, m.data));
    if (m.seq === last.seq) return { events, lastSequence: last.seq };
    next = m.seq + 1;
  }
  const consumer = await bus.js.consumers.get(stream, {
    filter_subjects: full,
    ...(next > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next } : { deliver_policy: DeliverPolicy.All }),
  });
  const messages = await consumer.consume({ max_messages: 512 });
  try {
    for await (const m of messages) {
      events.push(storedEvent(bus, subject, m.seq, m.data));
      if (m.seq >= last.seq) break;
    }
  } finally {
    await messages.close();
  }
  return { events, lastSequence: last.seq };
}

/**
 * An aggregate's rules, free of I/O (Emmett's decider): `decide` turns a command and the current state into
 * events, `evolve` folds an event into the state. Tested as given events / when command / then events.
 */
export interface Decider<Command, State, Event extends AnyEnvelope> {
  /** The event types this aggregate's subject holds. */
  readonly events: readonly EventDefinition[];
  initialState(): State;
  evolve(state: State, event: Event): State;
  decide(command: Command, state: State): readonly EventDraft<Event['type'], Event['v'], Event['data']>[];
}

/** Folds stored events into a state; events of other types on the subject are a bug and fail loudly. */
export function foldEvents<Command, State, Event extends AnyEnvelope>(
  decider: Decider<Command, State, Event> & { readonly events: readonly EventDefinition[] },
  isEvent: (e: AnyEnvelope) => e is Event,
  state: State,
  events: readonly StoredEvent[],
): State {
  let s = state;
  for (const { event, seq } of events) {
    if (!isEvent(event)) throw new InvalidEventError(`#${seq}`, `${event.type} v${event.v} does not belong to this aggregate`);
    s = decider.evolve(s, event);
  }
  return s;
}

export interface CommandOptions<Command, State, Event extends AnyEnvelope> {
  readonly subject: string;
  readonly decider: Decider<Command, State, Event>;
  readonly command: Command;
  readonly meta: EventMeta;
  /** Attempts before a ConcurrencyError reaches the caller (default 8). */
  readonly maxAttempts?: number;
  /** Start from this cache's state of the subject (reading only newer events), and remember the outcome. */
  readonly cache?: AggregateCache<Command, State, Event>;
}

export interface CommandResult<State> {
  readonly state: State;
  readonly appended: readonly Appended[];
  /** Stream sequence of the last event appended (or of the last event read, when the decision was "nothing"). */
  readonly seq: number;
}

/**
 * Load, decide, append with the expected last subject sequence; on a conflict, reload and decide again.
 * This is how every race in Vigil is settled: by the bus, never by reading a projection.
 *
 * nats-server 2.9 has no atomic batch, so a decision of several events is appended one by one, each expecting
 * the sequence of the one before. A writer that read between two of them makes the rest conflict; the loop then
 * reloads (the state now holds the events already appended) and decides again, so a decider must decide only
 * what its state does not show done yet — which deciders do anyway, to make commands idempotent.
 */
export async function handleCommand<Command, State, Event extends AnyEnvelope>(
  bus: Bus,
  options: CommandOptions<Command, State, Event>,
): Promise<CommandResult<State>> {
  const { decider, subject } = options;
  const isEvent = (e: AnyEnvelope): e is Event => isEventOf(decider.events, e);
  const maxAttempts = options.maxAttempts ?? 8;
  // With a cache, the first try decides on the cached state without a read: the expected sequence makes the stream
  // refuse the append when another writer got there first. Only an append that lands is trusted; a refusal, a "nothing
  // to do" or a conflict on that state is decided again on a state read now (and is not counted as an attempt).
  let unverified = options.cache?.peek(subject);
  for (let attempt = 1; ; attempt++) {
    let state: State;
    let expected: number;
    const fromCache = unverified;
    unverified = undefined;
    if (fromCache) {
      ({ state, seq: expected } = fromCache);
    } else if (options.cache) {
      ({ state, seq: expected } = await options.cache.read(subject));
    } else {
      const loaded = await loadAggregate(bus, subject);
      state = foldEvents(decider, isEvent, decider.initialState(), loaded.events);
      expected = loaded.lastSequence;
    }
    let drafts: ReturnType<typeof decider.decide>;
    try {
      drafts = decider.decide(options.command, state);
    } catch (err) {
      if (!fromCache) throw err;
      attempt--;
      continue;
    }
    if (fromCache && drafts.length === 0) {
      attempt--;
      continue;
    }
    const appended: Appended[] = [];
    try {
      for (const draft of drafts) {
        const event = envelope(draft, options.meta);
        const result = await append(bus, subject, event, { expectedLastSubjectSequence: expected });
        appended.push(result);
        expected = result.seq;
        if (!isEvent(event)) throw new InvalidEventError(event.type, 'decided an event this aggregate does not declare');
        state = decider.evolve(state, event);
      }
      options.cache?.remember(subject, state, expected);
      return { state, appended, seq: expected };
    } catch (err) {
      if (err instanceof ConcurrencyError && fromCache && appended.length === 0) {
        attempt--;
        continue;
      }
      if (err instanceof ConcurrencyError && attempt < maxAttempts) {
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        continue;
      }
      throw err;
    }
  }
}
