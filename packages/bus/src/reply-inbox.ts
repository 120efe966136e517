import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** No answer came within the time the asker gave (each asker names its own error for it). */
export class ReplyTimeoutError extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`${subject}: no answer within ${timeoutMs} ms`);
    this.name = 'ReplyTimeoutError';
  }
}

/** The inbox was closed (its connection closed) while an answer was awaited: it may still have been acted on. */
export class ReplyInboxClosedError extends Error {
  constructor(subject: string) {
    super(`${subject}: closed while awaiting the answer`);
    this.name = 'ReplyInboxClosedError';
  }
}

export interface AskOptions {
  readonly timeoutMs: number;
  readonly headers?: MsgHdrs;
}

interface Waiting {
  readonly subject: string;
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly resolve: (msg: Msg) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Messages that each expect one answer, every answer on one subscription (`<inbox>.<id>`), with one timer for all of
 * them. nats.js's own request does the same with a shared inbox, but adds per request a deferred, a timer and an error
 * object (made on every success, to cancel the timer). The answer is handed over as it came, a no-responders status
 * (503) included: what it means is the asker's business.
 *
 * Timeouts: waiting messages are kept per timeout in sending order, so the earliest deadline of each is its first
 * entry; one timer is set for the earliest of those, and moved only when a message with an earlier deadline comes.
 * Deadlines are on the monotonic clock, so a wall clock stepped back cannot put a bucket out of order.
 */
export class ReplyInbox {
  readonly #nc: NatsConnection;
  readonly #prefix = createInbox();
  readonly #subscription: Subscription;
  readonly #waiting = new Map<number, Waiting>();
  readonly #byTimeout = new Map<number, Map<number, Waiting>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #next = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#subscription = nc.subscribe(`${this.#prefix}.*`, { callback: (err, msg) => (err ? undefined : this.#answered(msg)) });
  }

  /** Answers awaited. */
  get pending(): number {
    return this.#waiting.size;
  }

  /** Publishes `payload` on `subject` with a reply subject of this inbox; resolves with the one answer. */
  ask(subject: string, payload: Uint8Array, options: AskOptions): Promise<Msg> {
    if (this.#subscription.isClosed()) return Promise.reject(new ReplyInboxClosedError(subject));
    const id = ++this.#next;
    return new Promise<Msg>((resolve, reject) => {
      const deadline = performance.now() + options.timeoutMs;
      const waiting: Waiting = { subject, timeoutMs: options.timeoutMs, deadline, resolve, reject };
      try {
        this.#nc.publish(subject, payload, { reply: `${this.#prefix}.${id}`, ...(options.headers ? { headers: options.headers } : {}) });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.#waiting.set(id, waiting);
      let sameTimeout = this.#byTimeout.get(options.timeoutMs);
      if (!sameTimeout) {
        sameTimeout = new Map();
        this.#byTimeout.set(options.timeoutMs, sameTimeout);
      }
      sameTimeout.set(id, waiting);
      if (deadline < this.#timerAt) this.#schedule(deadline);
    });
  }

  /** Stops listening; what still waits fails with ReplyInboxClosedError. */
  close(): void {
    if (!this.#subscription.isClosed()) this.#subscription.unsubscribe();
    clearTimeout(this.#timer);
    this.#timerAt = Number.POSITIVE_INFINITY;
    for (const waiting of this.#waiting.values()) waiting.reject(new ReplyInboxClosedError(waiting.subject));
    this.#waiting.clear();
    this.#byTimeout.clear();
  }

  #answered(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#prefix.length + 1));
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    this.#byTimeout.get(waiting.timeoutMs)?.delete(id);
    waiting.resolve(msg);
  }

  #schedule(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(performance.now()), Math.max(0, at - performance.now()));
    this.#timer.unref();
  }

  /** Fails what is past its deadline, then sets the timer for the earliest deadline left. */
  #expire(now: number): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [timeoutMs, sameTimeout] of this.#byTimeout) {
      for (const [id, waiting] of sameTimeout) {
        if (waiting.deadline > now) {
          earliest = Math.min(earliest, waiting.deadline);
          break;
        }
        sameTimeout.delete(id);
        this.#waiting.delete(id);
        waiting.reject(new ReplyTimeoutError(waiting.subject, timeoutMs));
      }
      if (sameTimeout.size === 0) this.#byTimeout.delete(timeoutMs);
    }
    if (earliest < Number.POSITIVE_INFINITY) this.#schedule(earliest);
  }
}
