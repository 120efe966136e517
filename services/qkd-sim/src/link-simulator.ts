import { randomBytes } from 'node:crypto';
import { append, createEvent, request, type Bus } from '@vigil/bus';
import { seal, uuidv7, type KekRing } from '@vigil/crypto';
import { blockContext, kmeSubjects, parsePoolLevel, supplySubject } from '@vigil/kme-contract';
import type { Logger } from '@vigil/log';
import { BlockAdded } from '@vigil/schemas';

/** The largest block published at once; a fast link publishes several per tick. */
export const maxBlockBytes = 64 * 1024;

export interface LinkStatus {
  readonly link_id: string;
  readonly state: 'up' | 'paused_full' | 'waiting_for_kme' | 'stopped';
  readonly rate_bps: number;
  readonly blocks_published: number;
  readonly bytes_published: number;
  readonly last_block_at: string | null;
}

/**
 * One simulated QKD link: secret key material at the link's rate, sealed under the KEK as soon as it exists and
 * published as blocks on KEY_SUPPLY. It pauses while the link's pool is full (max_key_count) and resumes as keys
 * are used, as a real link's key store would.
 */
export class LinkSimulator {
  readonly #bus: Bus;
  readonly #ring: KekRing;
  readonly #logger: Logger;
  readonly #linkId: string;
  readonly #tickMs: number;
  #rateBps: number;
  #state: LinkStatus['state'] = 'up';
  #carryBits = 0;
  #blocks = 0;
  #bytes = 0;
  #lastBlockAt: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(options: { bus: Bus; ring: KekRing; logger: Logger; linkId: string; rateBps: number; tickMs?: number }) {
    this.#bus = options.bus;
    this.#ring = options.ring;
    this.#logger = options.logger.child({ link: options.linkId });
    this.#linkId = options.linkId;
    this.#rateBps = options.rateBps;
    this.#tickMs = options.tickMs ?? 200;
  }

  set rateBps(value: number) {
    this.#rateBps = value;
  }

  status(): LinkStatus {
    return { link_id: this.#linkId, state: this.#state, rate_bps: this.#rateBps, blocks_published: this.#blocks, bytes_published: this.#bytes, last_block_at: this.#lastBlockAt };
  }

  start(): void {
    let last = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      // One tick at a time: a slow publish delays the next instead of piling up.
      this.#running = this.#running.then(() => this.tick(elapsed)).catch((err: unknown) => this.#logger.warn({ err }, 'QKD link tick failed'));
    }, this.#tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#state = 'stopped';
    await this.#running;
  }

  /** Produces the material of `elapsedMs` at the link's rate, up to what the pool has room for. */
  async tick(elapsedMs: number): Promise<void> {
    let room: number;
    try {
      const level = await request(this.#bus, kmeSubjects.poolLevel, { link_id: this.#linkId }, { timeoutMs: 2000, parse: parsePoolLevel });
      room = level.capacity_bytes - level.available_bytes;
    } catch {
      this.#state = 'waiting_for_kme';
      return;
    }
    this.#carryBits += (this.#rateBps * elapsedMs) / 1000;
    let bytes = Math.min(Math.floor(this.#carryBits / 8), Math.max(0, room));
    if (room <= 0) {
      this.#state = 'paused_full';
      this.#carryBits = 0;
      return;
    }
    this.#state = 'up';
    this.#carryBits -= bytes * 8;
    while (bytes > 0) {
      const size = Math.min(bytes, maxBlockBytes);
      await this.publishBlock(size);
      bytes -= size;
    }
  }

  /** Publishes one sealed block of fresh material; the plaintext never leaves this function. */
  async publishBlock(bytes: number): Promise<number> {
    const material = randomBytes(bytes);
    const blockId = uuidv7();
    const sealed = seal(this.#ring, material, blockContext(blockId));
    material.fill(0);
    const event = createEvent(
      BlockAdded,
      { link_id: this.#linkId, block_id: blockId, bytes, kek_id: sealed.kekId, sealed: sealed.data.toString('base64') },
      { actor: { kind: 'service', id: 'qkd-sim' } },
    );
    const { seq } = await append(this.#bus, supplySubject(this.#linkId), event);
    this.#blocks += 1;
    this.#bytes += bytes;
    this.#lastBlockAt = event.at;
    return seq;
  }
}
