import { createInbox, headers, type Msg, type Subscription } from '@nats-io/transport-node';
import type { AnyEnvelope } from '@vigil/schemas';
import type { Appended, AppendOptions } from './append.ts';
import type { Bus } from './connection.ts';

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

interface Waiting {
  readonly subject: string;
  readonly sentAt: number;
  readonly resolve: (appended: Appended) => void;
  readonly reject: (err: Error) => void;
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

/**
 * `append` for volume: the same JetStream publish (the event id is the `Nats-Msg-Id`, so an event appended twice
 * within the duplicate window is stored once), but with every acknowledgement coming back on one subscription and
 * one timer for all of them, where a JetStream request costs a request object, a timer and an error object with its
 * stack per event. Many appends may be in flight; on one connection they reach the stream in the order they were
 * made. It does not validate the event again: it is for events made by `createEvent`, which validated them
 * against their definition (`append` validates, then appends through one of these).
 */
export class StreamAppender {
  readonly #bus: Bus;
  readonly #timeoutMs: number;
  readonly #inbox = createInbox();
  readonly #waiting = new Map<number, Waiting>();
  readonly #subscription: Subscription;
  readonly #sweeper: NodeJS.Timeout;
  /** Appends made since the last flush, published together in the next turn of the event loop. */
  #queued: { id: number; subject: string; payload: Uint8Array; eventId: string; expected: number | undefined }[] = [];
  #flushScheduled = false;
  #next = 0;

  constructor(bus: Bus, options: StreamAppenderOptions = {}) {
    this.#bus = bus;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#subscription = bus.nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => (err ? undefined : this.#acknowledged(msg)) });
    this.#sweeper = setInterval(() => this.#expire(Date.now()), Math.min(500, this.#timeoutMs));
    this.#sweeper.unref();
  }

  /** Appends in flight. */
  get pending(): number {
    return this.#waiting.size;
  }

  /**
   * With `expectedLastSubjectSequence`, the stream stores the event only if the subject's last message has that
   * sequence; otherwise it refuses with AppendRefusedError, code 10071 (`append` turns it into a ConcurrencyError).
   */
  append(subject: string, event: AnyEnvelope, options: AppendOptions = {}): Promise<Appended> {
    const id = ++this.#next;
    return new Promise<Appended>((resolve, reject) => {
      this.#waiting.set(id, { subject, sentAt: Date.now(), resolve, reject });
      this.#queued.push({ id, subject, payload: encoder.encode(JSON.stringify(event)), eventId: event.id, expected: options.expectedLastSubjectSequence });
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
    for (const { id, subject, payload, eventId, expected } of queued) {
      const h = headers();
      h.set('Nats-Msg-Id', eventId);
      if (expected !== undefined) h.set('Nats-Expected-Last-Subject-Sequence', String(expected));
      try {
        this.#bus.nc.publish(this.#bus.names.subject(subject), payload, { reply: `${this.#inbox}.${id}`, headers: h });
      } catch (err) {
        const waiting = this.#waiting.get(id);
        this.#waiting.delete(id);
        waiting?.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Stops listening; appends still waiting fail (they may have been stored). */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#flush();
    if (!this.#subscription.isClosed()) this.#subscription.unsubscribe();
    this.#expire(Number.POSITIVE_INFINITY);
  }

  #acknowledged(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#inbox.length + 1));
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    // No stream listens on the subject: the server answers with a 503 status and no data.
    if (msg.headers?.code === 503) {
      waiting.reject(new AppendRefusedError(waiting.subject, 503, 'no stream holds this subject'));
      return;
    }
    let answer: unknown;
    try {
      answer = JSON.parse(decoder.decode(msg.data));
    } catch {
      waiting.reject(new AppendRefusedError(waiting.subject, 0, 'unreadable acknowledgement'));
      return;
    }
    const error = apiError(answer);
    if (error) waiting.reject(new AppendRefusedError(waiting.subject, error.code, error.description));
    else if (isPubAck(answer)) waiting.resolve({ stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true });
    else waiting.reject(new AppendRefusedError(waiting.subject, 0, 'unexpected acknowledgement'));
  }

  /** Fails the appends older than the timeout; the map is in sending order, so the scan stops at the first young one. */
  #expire(now: number): void {
    for (const [id, waiting] of this.#waiting) {
      if (now - waiting.sentAt < this.#timeoutMs) return;
      this.#waiting.delete(id);
      waiting.reject(new AppendTimeoutError(waiting.subject, this.#timeoutMs));
    }
  }
}
