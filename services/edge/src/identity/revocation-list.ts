import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { readMessage, type Bus } from '@vigil/bus';
import { sessionEventsFilter } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import { SessionRevoked, StreamName } from '@vigil/schemas';

export interface RevocationListOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  /** Lifetime of access tokens: a revoked session is remembered this long after its revocation, then forgotten. */
  readonly accessTokenMs: number;
}

/**
 * The sessions revoked recently enough that access tokens of theirs may still be unexpired, kept in memory by every
 * edge from the session events on AUTH_EVENT (an ordered consumer starting one token lifetime back). A revocation
 * reaches every edge within milliseconds, and no request waits on the bus or a database to be checked.
 */
export class RevocationList {
  readonly #options: RevocationListOptions;
  readonly #revoked = new Map<string, number>();
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: RevocationListOptions) {
    this.#options = options;
  }

  /**
   * Resolves once the revocations already stored are known, or after `maxWaitMs` not to hold a start up. Without
   * the stream yet (an edge that starts before any worker made it), it keeps trying in the background.
   */
  async start(maxWaitMs = 3000): Promise<void> {
    this.#sweeper = setInterval(() => this.#sweep(), 60_000);
    this.#sweeper.unref();
    let markCaughtUp: () => void = () => {};
    const caughtUp = new Promise<void>((resolve) => {
      markCaughtUp = resolve;
    });
    this.#loop = this.#follow(markCaughtUp);
    await Promise.race([caughtUp, new Promise((r) => setTimeout(r, maxWaitMs).unref())]);
  }

  async #follow(markCaughtUp: () => void): Promise<void> {
    const { bus, logger } = this.#options;
    while (!this.#stopped) {
      try {
        const consumer = await bus.js.consumers.get(bus.names.stream(StreamName.AuthEvent), {
          filter_subjects: bus.names.subject(sessionEventsFilter),
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: new Date(Date.now() - this.#options.accessTokenMs - 60_000).toISOString(),
        });
        if ((await consumer.info(true)).num_pending === 0) markCaughtUp();
        const messages = await consumer.consume();
        this.#messages = messages;
        if (this.#stopped) await messages.close();
        for await (const m of messages) {
          const read = readMessage(bus, m);
          if (read.ok && SessionRevoked.is(read.event)) {
            const sessionId = bus.names.plain(m.subject).split('.')[3];
            if (sessionId) this.add(sessionId, Date.parse(read.event.at));
          }
          if (m.info.pending === 0) markCaughtUp();
        }
        return;
      } catch (err) {
        if (this.#stopped) return;
        logger.warn({ err }, 'cannot follow session revocations yet; retrying');
        await new Promise((r) => setTimeout(r, 2000).unref());
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    await this.#messages?.close();
    await this.#loop;
  }

  /** Records a revocation (from the feed, or at once by the edge that handled the logout). */
  add(sessionId: string, revokedAt = Date.now()): void {
    this.#revoked.set(sessionId, revokedAt + this.#options.accessTokenMs + 60_000);
  }

  isRevoked(sessionId: string): boolean {
    return this.#revoked.has(sessionId);
  }

  size(): number {
    return this.#revoked.size;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, until] of this.#revoked) if (until < now) this.#revoked.delete(id);
  }
}
