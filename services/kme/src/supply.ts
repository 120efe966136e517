import { followEvents, type Bus, type Following } from '@vigil/bus';
import { open, type KekRing } from '@vigil/crypto';
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

/** Reads sealed blocks by sequence and opens them; an erased block is gone for good. */
export async function openBlocks(bus: Bus, ring: KekRing, seqs: readonly number[]): Promise<Map<number, Buffer>> {
  const stream = bus.names.stream(StreamName.KeySupply);
  const opened = new Map<number, Buffer>();
  await Promise.all(
    [...new Set(seqs)].map(async (seq) => {
      const m = await bus.jsm.direct.getMessage(stream, { seq });
      if (!m) throw new Error(`block ${seq} is not on KEY_SUPPLY`);
      const event: unknown = m.json();
      if (!BlockAdded.is(event)) throw new Error(`message ${seq} on KEY_SUPPLY is not a block`);
      opened.set(seq, open(ring, { kekId: event.data.kek_id, data: Buffer.from(event.data.sealed, 'base64') }, blockContext(event.data.block_id)));
    }),
  );
  return opened;
}
