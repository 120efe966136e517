import type { AnyEnvelope } from '@vigil/schemas';
import { BlocksErased, KeysAllocated, KeysExpired, KeysRetrieved } from '@vigil/schemas';
import { requestIdOf } from './key-ids.ts';

interface RequestEntry {
  readonly linkId: string;
  readonly blockSeqs: readonly number[];
  readonly slaves: readonly string[];
  readonly keyCount: number;
  readonly expiresAt: number;
  readonly retrieved: Map<string, Set<number>>;
  spent: boolean;
}

interface BlockEntry {
  readonly linkId: string;
  readonly seq: number;
  fullyAllocated: boolean;
  erased: boolean;
  readonly open: Set<string>;
}

/**
 * Which material may go: a block of KEY_SUPPLY is spent once it is wholly allocated and every request that drew
 * on it is spent (each slave has each key, or the keys expired). Pure bookkeeping over KEY_REQUEST events; the
 * eraser acts on what it says.
 */
export class ErasureLedger {
  readonly #requests = new Map<string, RequestEntry>();
  readonly #blocks = new Map<number, BlockEntry>();

  apply(subject: string, event: AnyEnvelope): void {
    const linkId = subject.split('.')[1] ?? '';
    if (KeysAllocated.is(event)) {
      for (const d of event.data.allocations) {
        const blockSeqs = [...new Set(d.ranges.map((r) => r.block_seq))];
        this.#requests.set(d.request_id, {
          linkId,
          blockSeqs,
          slaves: d.slave_SAE_IDs,
          keyCount: d.key_count,
          expiresAt: Date.parse(d.expires_at),
          retrieved: new Map(),
          spent: false,
        });
        for (const seq of blockSeqs) {
          const block = this.#block(linkId, seq);
          block.open.add(d.request_id);
          // The cursor moved past every block before `next`: nothing more will be cut from them.
          if (seq < event.data.next.block_seq) block.fullyAllocated = true;
        }
      }
      return;
    }
    if (KeysRetrieved.is(event)) {
      const first = event.data.key_IDs[0];
      if (!first) return;
      const entry = this.#requests.get(requestIdOf(first).requestId);
      if (!entry) return;
      const mine = entry.retrieved.get(event.data.slave_SAE_ID) ?? new Set<number>();
      for (const id of event.data.key_IDs) mine.add(requestIdOf(id).index);
      entry.retrieved.set(event.data.slave_SAE_ID, mine);
      if (entry.slaves.every((s) => (entry.retrieved.get(s)?.size ?? 0) >= entry.keyCount)) this.#spend(requestIdOf(first).requestId);
      return;
    }
    if (KeysExpired.is(event)) {
      this.#spend(event.data.request_id);
      return;
    }
    if (BlocksErased.is(event)) {
      for (const seq of event.data.block_seqs) {
        const block = this.#blocks.get(seq);
        if (block) block.erased = true;
      }
    }
  }

  #block(linkId: string, seq: number): BlockEntry {
    let block = this.#blocks.get(seq);
    if (!block) {
      block = { linkId, seq, fullyAllocated: false, erased: false, open: new Set() };
      this.#blocks.set(seq, block);
    }
    return block;
  }

  #spend(requestId: string): void {
    const entry = this.#requests.get(requestId);
    if (!entry || entry.spent) return;
    entry.spent = true;
    for (const seq of entry.blockSeqs) this.#blocks.get(seq)?.open.delete(requestId);
    this.#requests.delete(requestId);
  }

  /** Blocks to erase now, by link. */
  erasable(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const b of this.#blocks.values()) {
      if (b.erased || !b.fullyAllocated || b.open.size > 0) continue;
      out.set(b.linkId, [...(out.get(b.linkId) ?? []), b.seq]);
    }
    return out;
  }

  /** Requests past their expiry that no slave has finished. */
  expired(now: number): { linkId: string; requestId: string }[] {
    const out: { linkId: string; requestId: string }[] = [];
    for (const [requestId, r] of this.#requests) if (!r.spent && r.expiresAt <= now) out.push({ linkId: r.linkId, requestId });
    return out;
  }

  /** Forgets erased blocks (their events stay on the stream; the material does not). */
  compact(): void {
    for (const [seq, b] of this.#blocks) if (b.erased) this.#blocks.delete(seq);
  }
}
