import { headers, type Msg } from '@nats-io/transport-node';
import type { AnyEnvelope } from '@vigil/schemas';
import type { Appended, AppendOptions } from './append.ts';
import type { Bus } from './connection.ts';
import { ReplyInbox, ReplyTimeoutError } from './reply-inbox.ts';

export interface StreamAppenderOptions {
  /** How long an append waits for the stream's acknowledgement (default 5 s, as a JetStream publish). */
  readonly timeoutMs?: number;
}

/** The stream did not acknowledge an append in time: it may or may not be stored (append it again, same id). */
export class AppendTimeoutError extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`${subject}: no acknowledgement from the stream within ${timeoutMs} ms`);
    this.name = 'AppendTimeoutError';
  }
}

/** The stream refused an append (the JetStream API error), or no stream holds the subject. */
export class AppendRefusedError extends Error {
  readonly code: number;
  constructor(subject: string, code: number, description: string) {
    super(`${subject}: ${description} (${code})`);
    this.name = 'AppendRefusedError';
    this.code = code;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isPubAck(value: unknown): value is { stream: string; seq: number; duplicate?: boolean } {
  return typeof value === 'object' && value !== null && 'stream' in value && typeof value.stream === 'string' && 'seq' in value && typeof value.seq === 'number';
}

function apiError(value: unknown): { code: number; description: string } | undefined {
  if (typeof value !== 'object' || value === null || !('error' in value)) return undefined;
  const { error } = value;
  if (typeof error !== 'object' || error === null) return { code: 0, description: 'unknown error' };
  const code = 'err_code' in error && typeof error.err_code === 'number' ? error.err_code : 'code' in error && typeof error.code === 'number' ? error.code : 0;
  const description = 'description' in error && typeof error.description === 'string' ? error.description : 'refused';
  return { code, description };
}

interface Queued {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly eventId: string;
  readonly expected: number | undefined;
  readonly resolve: (appended: Appended) => void;
  readonly reject: (err: Error) => void;
}

/** What the stream answered to an append: its acknowledgement, or why it refused. */
function appendedOf(subject: string, msg: Msg): Appended {
  // No stream listens on the subject: the server answers with a 503 status and no data.
  if (msg.headers?.code === 503) throw new AppendRefusedError(subject, 503, 'no stream holds this subject');
  let answer: unknown;
  try {
    answer = JSON.parse(decoder.decode(msg.data));
  } catch {
    throw new AppendRefusedError(subject, 0, 'unreadable acknowledgement');
  }
  const error = apiError(answer);
  if (error) throw new AppendRefusedError(subject, error.code, error.description);
  if (!isPubAck(answer)) throw new AppendRefusedError(subject, 0, 'unexpected acknowledgement');
  return { stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true };
}

/**
 * `append` for volume: the same JetStream publish (the event id is the `Nats-Msg-Id`, so an event appended twice
 * within the duplicate window is stored once), but with every acknowledgement coming back to one reply inbox with one
 * timer for all of them, where a JetStream request costs a request object, a timer and an error object with its
 * stack per event. Many appends may be in flight; on one connection they reach the stream in the order they were
 * made. It does not validate the event again: it is for events made by `createEvent`, which validated them
 * against their definition (`append` validates, then appends through one of these).
 */
export class StreamAppender {
  readonly #bus: Bus;
  readonly #timeoutMs: number;
  readonly #inbox: ReplyInbox;
  /** Appends made since the last flush, published together in the next turn of the event loop. */
  #queued: Queued[] = [];
  #flushScheduled = false;

  constructor(bus: Bus, options: StreamAppenderOptions = {}) {
    this.#bus = bus;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#inbox = new ReplyInbox(bus.nc);
  }

  /** Appends in flight. */
  get pending(): number {
    return this.#queued.length + this.#inbox.pending;
  }

  /**
   * With `expectedLastSubjectSequence`, the stream stores the event only if the subject's last message has that
   * sequence; otherwise it refuses with AppendRefusedError, code 10071 (`append` turns it into a ConcurrencyError).
   */
  append(subject: string, event: AnyEnvelope, options: AppendOptions = {}): Promise<Appended> {
    return new Promise<Appended>((resolve, reject) => {
      this.#queued.push({ subject, payload: encoder.encode(JSON.stringify(event)), eventId: event.id, expected: options.expectedLastSubjectSequence, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * Publishes the queued appends in one go, in the order they were made. The client writes whatever was published in
   * one microtask turn with one system call, but appends made from separate socket reads (one per device on a
   * broker) would each be a write of their own: gathered here, a busy turn of the event loop costs one.
   */
  #flush(): void {
    const queued = this.#queued;
    this.#queued = [];
    this.#flushScheduled = false;
    for (const { subject, payload, eventId, expected, resolve, reject } of queued) {
      const h = headers();
      h.set('Nats-Msg-Id', eventId);
      if (expected !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
      this.#inbox.ask(this.#bus.names.subject(subject), payload, { timeoutMs: this.#timeoutMs, headers: h }).then(
        (msg) => {
          try {
            resolve(appendedOf(subject, msg));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        // A timeout, the appender closed meanwhile, a publish refused by the client: it may or may not be stored.
        (err: unknown) => reject(err instanceof ReplyTimeoutError ? new AppendTimeoutError(subject, this.#timeoutMs) : err instanceof Error ? err : new Error(String(err))),
      );
    }
  }

  /** Stops listening; appends still waiting fail (they may have been stored). */
  async close(): Promise<void> {
    this.#flush();
    this.#inbox.close();
  }
}
