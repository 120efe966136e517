import { append, createEvent, followEvents, handleCommand, type Bus, type Following } from '@vigil/bus';
import { derivedId } from '@vigil/crypto';
import type { Logger } from '@vigil/log';
import { BlocksErased, StreamName } from '@vigil/schemas';
import { AllocationReader } from './allocation-reader.ts';
import { ErasureLedger } from './erasure-ledger.ts';
import { keyRequestDeciderFrom, requestSubject } from './key-request.ts';

export interface EraserOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  /** How often expiries are looked for and spent blocks erased (ms). */
  readonly intervalMs?: number;
}

/**
 * Makes spent key material unrecoverable: securely erases (JetStream `erase`, overwriting the stored bytes) each
 * KEY_SUPPLY block whose material is all delivered or expired, and expires keys past their TTL. Erasing twice is
 * harmless and expiry is decided with the expected sequence, so every replica may run it.
 */
export class Eraser {
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #ledger = new ErasureLedger();
  readonly #allocations: AllocationReader;
  readonly #intervalMs: number;
  #following: Following | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(options: EraserOptions) {
    this.#bus = options.bus;
    this.#logger = options.logger.child({ component: 'eraser' });
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#allocations = new AllocationReader(options.bus);
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, 'keyreq.>', ({ subject, event }) => this.#ledger.apply(subject, event));
    await this.#following.caughtUp;
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => this.sweep().then(() => undefined)).catch((err: unknown) => this.#logger.warn({ err }, 'erasure sweep failed'));
    }, this.#intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    await this.#following?.stop();
  }

  /** One pass: expire what is due, then erase what is spent. */
  async sweep(now = Date.now()): Promise<{ expired: number; erased: number }> {
    let expired = 0;
    for (const { linkId, requestId } of this.#ledger.expired(now)) {
      // The allocation too, so that a request its slaves have all retrieved (the ledger may not know yet) is left alone.
      const result = await handleCommand(this.#bus, {
        subject: requestSubject(linkId, requestId),
        decider: keyRequestDeciderFrom(await this.#allocations.find(linkId, requestId)),
        command: { kind: 'expire', requestId, now: new Date(now) },
        meta: { actor: { kind: 'service', id: 'kme-eraser' } },
      });
      expired += result.appended.length;
    }
    let erased = 0;
    const stream = this.#bus.names.stream(StreamName.KeySupply);
    for (const [linkId, seqs] of this.#ledger.erasable()) {
      for (const seq of seqs) {
        try {
          await this.#bus.jsm.streams.deleteMessage(stream, seq, true);
        } catch (err) {
          // Already erased by another replica: the block is gone either way.
          if (!(err instanceof Error && /no message found|not found/i.test(err.message))) throw err;
        }
      }
      // Every replica sweeps: the same erasure gets the same id, so it is recorded (and counted) once.
      const id = derivedId('kme.blocks_erased', `${linkId}:${seqs.join(',')}`);
      await append(this.#bus, `keyreq.${linkId}.erasure`, createEvent(BlocksErased, { block_seqs: seqs }, { actor: { kind: 'service', id: 'kme-eraser' }, id }));
      erased += seqs.length;
      this.#logger.info({ link: linkId, blocks: seqs.length }, 'spent key material erased');
    }
    this.#ledger.compact();
    return { expired, erased };
  }

  /** Waits until the ledger has seen an event (tests, after an append). */
  async reach(seq: number): Promise<void> {
    await this.#following?.reach(seq);
  }
}
