import { followEvents, type Bus, type Following } from '@vigil/bus';
import { open, type KekRing, type Sealed } from '@vigil/crypto';
import { blockContext, supplySubject } from '@vigil/kme-contract';
import { BlockAdded, StreamName } from '@vigil/schemas';
import type { SupplyBlock } from './pool.ts';


/**
 * The blocks of key material each link has on KEY_SUPPLY, kept current in memory. Only sizes and positions are
 * held; material is read and opened when keys are cut from it, and never kept in clear.
 */
export class SupplyView {
  readonly #blocks = new Map<string, SupplyBlock[]>();
  readonly #bus: Bus;
  #following: Following | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, 'keysupply.>', ({ event, seq }) => {
      if (!BlockAdded.is(event)) return;
      const list = this.#blocks.get(event.data.link_id) ?? [];
      list.push({ seq, bytes: event.data.bytes });
      this.#blocks.set(event.data.link_id, list);
    });
    await this.#following.caughtUp;
  }

  blocks(linkId: string): readonly SupplyBlock[] {
    return this.#blocks.get(linkId) ?? [];
  }

  /** Forgets blocks wholly before a link's cursor: they are allocated and will never be cut again. */
  prune(linkId: string, beforeSeq: number): void {
    const list = this.#blocks.get(linkId);
    if (list && list.length > 0 && (list[0]?.seq ?? Infinity) < beforeSeq) this.#blocks.set(linkId, list.filter((b) => b.seq >= beforeSeq));
  }

  /** Waits until this view has seen the link's newest block (after "not enough material", before saying so). */
  async refresh(linkId: string): Promise<void> {
    const last = await this.#bus.jsm.streams.getMessage(this.#bus.names.stream(StreamName.KeySupply), { last_by_subj: this.#bus.names.subject(supplySubject(linkId)) });
    if (last && this.#following) await this.#following.reach(last.seq, 2000);
  }

  async stop(): Promise<void> {
    await this.#following?.stop();
  }
}

/**
 * Reads blocks by sequence and opens them. The sealed bytes of recent blocks are kept (sealed) in a small cache:
 * consecutive requests cut from the same block, and fetching and decoding 64 KiB per request would dominate.
 * An erased block is gone for good.
 */
export class BlockReader {
  readonly #bus: Bus;
  readonly #ring: KekRing;
  readonly #cache = new Map<number, Sealed & { blockId: string }>();
  readonly #capacity: number;

  constructor(bus: Bus, ring: KekRing, capacity = 32) {
    this.#bus = bus;
    this.#ring = ring;
    this.#capacity = capacity;
  }

  async open(seqs: readonly number[]): Promise<Map<number, Buffer>> {
    const opened = new Map<number, Buffer>();
    await Promise.all(
      [...new Set(seqs)].map(async (seq) => {
        const sealed = this.#cache.get(seq) ?? (await this.#fetch(seq));
        opened.set(seq, open(this.#ring, sealed, blockContext(sealed.blockId)));
      }),
    );
    return opened;
  }

  /** Drops a block from the cache (it was erased). */
  forget(seq: number): void {
    this.#cache.delete(seq);
  }

  async #fetch(seq: number): Promise<Sealed & { blockId: string }> {
    const m = await this.#bus.jsm.direct.getMessage(this.#bus.names.stream(StreamName.KeySupply), { seq });
    if (!m) throw new Error(`block ${seq} is not on KEY_SUPPLY`);
    const event: unknown = m.json();
    if (!BlockAdded.is(event)) throw new Error(`message ${seq} on KEY_SUPPLY is not a block`);
    const sealed = { kekId: event.data.kek_id, data: Buffer.from(event.data.sealed, 'base64'), blockId: event.data.block_id };
    this.#cache.set(seq, sealed);
    if (this.#cache.size > this.#capacity) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    return sealed;
  }
}
