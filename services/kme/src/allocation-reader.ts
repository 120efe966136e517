import type { Bus } from '@vigil/bus';
import { KeysAllocated, StreamName } from '@vigil/schemas';
import { anchorOf } from './key-ids.ts';
import { poolSubject, type AllocationData } from './pool.ts';

/**
 * Finds a request's allocation from its id alone: the id holds the anchor its allocation event was appended after,
 * and that event is the first message of the link's pool subject past the anchor (one direct get). Allocation
 * events never change, so the events read (and those this process appended) are kept in a small cache: the keys of
 * one group commit are usually retrieved together.
 */
export class AllocationReader {
  readonly #bus: Bus;
  readonly #capacity: number;
  readonly #events = new Map<string, ReadonlyMap<string, AllocationData>>();

  constructor(bus: Bus, capacity = 64) {
    this.#bus = bus;
    this.#capacity = capacity;
  }

  /** The allocation of a request on a link; undefined when no allocation event holds that request. */
  async find(linkId: string, requestId: string): Promise<AllocationData | undefined> {
    const anchor = anchorOf(requestId);
    if (anchor === 0) return undefined;
    const key = `${linkId}:${anchor}`;
    let allocations = this.#events.get(key);
    if (!allocations) {
      const stored = await this.#bus.jsm.direct.getMessage(this.#bus.names.stream(StreamName.KeyRequest), {
        seq: anchor + 1,
        next_by_subj: this.#bus.names.subject(poolSubject(linkId)),
      });
      if (!stored) return undefined;
      const event: unknown = stored.json();
      if (!KeysAllocated.is(event)) throw new Error(`${poolSubject(linkId)} holds an unexpected event at ${stored.seq}`);
      allocations = this.remember(linkId, anchor, event.data.allocations);
    }
    return allocations.get(requestId);
  }

  /** Keeps an allocation event this process stored (appended after `anchor`). */
  remember(linkId: string, anchor: number, allocations: readonly AllocationData[]): ReadonlyMap<string, AllocationData> {
    const byId = new Map(allocations.map((a) => [a.request_id, a]));
    this.#events.set(`${linkId}:${anchor}`, byId);
    if (this.#events.size > this.#capacity) {
      const oldest = this.#events.keys().next();
      if (!oldest.done) this.#events.delete(oldest.value);
    }
    return byId;
  }
}
