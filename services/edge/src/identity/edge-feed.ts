import { followEvents, streamForSubject, type Bus, type FollowedEvent, type Following } from '@vigil/bus';
import type { Logger } from '@vigil/log';

export interface EdgeFeedOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  /** A plain subject filter on one stream, e.g. `auth.*.apikey.*`. */
  readonly filter: string;
  /** What is followed, for the log line while the stream is not there yet. */
  readonly what: string;
  readonly onEvent: (event: FollowedEvent) => void;
}

/**
 * The events behind one of an edge's in-memory views (API keys, tenant suspensions), followed from the start of the
 * stream. An edge must start even before any worker made the stream, so `start` waits at most `maxWaitMs` for the
 * events already stored, and following is retried in the background until the stream exists.
 */
export class EdgeFeed {
  readonly #options: EdgeFeedOptions;
  #following: Following | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #caughtUp = false;
  #markEstablished: () => void = () => {};
  /** Resolves once following has begun (the stream exists and the consumer is made). */
  readonly #established = new Promise<void>((resolve) => {
    this.#markEstablished = resolve;
  });

  constructor(options: EdgeFeedOptions) {
    this.#options = options;
  }

  async start(maxWaitMs: number): Promise<void> {
    let markCaughtUp: () => void = () => {};
    const caughtUp = new Promise<void>((resolve) => {
      markCaughtUp = () => {
        this.#caughtUp = true;
        resolve();
      };
    });
    this.#loop = this.#follow(markCaughtUp);
    await Promise.race([caughtUp, new Promise((r) => setTimeout(r, maxWaitMs).unref())]);
  }

  async #follow(markCaughtUp: () => void): Promise<void> {
    const { bus, filter, onEvent, logger, what } = this.#options;
    while (!this.#stopped) {
      try {
        const following = await followEvents(bus, filter, onEvent);
        this.#following = following;
        this.#markEstablished();
        if (this.#stopped) await following.stop();
        else void following.caughtUp.then(markCaughtUp);
        return;
      } catch (err) {
        if (this.#stopped) return;
        logger.warn({ err }, `cannot follow ${what} yet; retrying`);
        await new Promise((r) => setTimeout(r, 2000).unref());
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#following?.stop();
  }

  /** Whether every event stored when following began has been seen. */
  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  /** The stream sequence of the last event the view has seen; 0 while it follows nothing. */
  lastSeq(): number {
    return this.#following?.lastSeq() ?? 0;
  }

  /**
   * Catches the view up to the last event stored on `subject` (of the followed stream; wildcards allowed), read once:
   * false when there is none. A bus that cannot be asked, or a view that does not get there within `timeoutMs`, is the
   * caller's own error, made by `behind` with the cause: a view never guesses.
   */
  async catchUpTo(subject: string, timeoutMs: number, behind: (cause: Error) => Error): Promise<boolean> {
    const { bus, filter } = this.#options;
    const stream = bus.names.stream(streamForSubject(filter).name);
    const last = await bus.jsm.streams.getMessage(stream, { last_by_subj: bus.names.subject(subject) }).catch((err: unknown) => {
      throw behind(err instanceof Error ? err : new Error(String(err)));
    });
    if (!last) return false;
    await this.reach(last.seq, timeoutMs).catch(() => undefined);
    if (this.lastSeq() < last.seq) throw behind(new Error(`the view did not reach ${subject} #${last.seq} within ${timeoutMs} ms`));
    return true;
  }

  /**
   * Resolves once the view has seen an append, or rejects after `timeoutMs` (5 s by default), including while the
   * following is still being set up at start. At once when the feed was never started.
   */
  async reach(seq: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!this.#following && this.#loop) {
      await Promise.race([this.#established, new Promise((_, reject) => setTimeout(() => reject(new Error('not following yet')), timeoutMs).unref())]);
    }
    await this.#following?.reach(seq, Math.max(0, deadline - Date.now()));
  }
}
