import type { Delivery } from '@vigil/bus';
import { insertMany, schema, type Projection, type Tx } from '@vigil/store';
import { BlockAdded, BlocksErased, KeysAllocated, KeysExpired, KeysRetrieved, LinkConfigured } from '@vigil/schemas';
import { eq, sql } from 'drizzle-orm';
import { requestIdOf } from './key-ids.ts';

const { kmeKeyRequests, kmeLinks, kmeSupply } = schema;

/**
 * Read models of KEY_REQUEST: the links with their limits and how much of their material went out, and each
 * request's keys with their owners and status. Sizes, ids and counts only — never key material.
 */
export const keyRequestsProjection: Projection = {
  name: 'kme_key_requests',
  stream: 'KEY_REQUEST',
  tables: [kmeLinks, kmeKeyRequests],
  async apply(tx, events) {
    for (const d of events) await applyKeyRequestEvent(tx, d);
  },
};

async function applyKeyRequestEvent(tx: Tx, d: Delivery): Promise<void> {
  const e = d.event;
  if (LinkConfigured.is(e)) {
    const row = { linkId: e.data.link_id, kmeIds: e.data.kme_ids, keySize: e.data.limits.key_size, limits: { ...e.data.limits }, rateBps: e.data.rate_bps };
    await tx.insert(kmeLinks).values(row).onConflictDoUpdate({ target: kmeLinks.linkId, set: { ...row, updatedAt: sql`now()` } });
    return;
  }
  if (KeysAllocated.is(e)) {
    const linkId = d.subject.split('.')[1] ?? '';
    const rows = e.data.allocations.map((a) => ({
      requestId: a.request_id,
      linkId,
      kmeId: a.kme_id,
      masterSaeId: a.master_SAE_ID,
      slaveSaeIds: a.slave_SAE_IDs,
      keyCount: a.key_count,
      keyBits: a.key_bits,
      status: 'delivered',
      retrieved: {},
      allocatedAt: e.at,
      expiresAt: a.expires_at,
    }));
    await insertMany(tx, kmeKeyRequests, rows);
    const bytes = e.data.allocations.reduce((n, a) => n + (a.key_count * a.key_bits) / 8, 0);
    const keys = e.data.allocations.reduce((n, a) => n + a.key_count, 0);
    await tx
      .update(kmeLinks)
      .set({ allocatedBytes: sql`${kmeLinks.allocatedBytes} + ${bytes}`, allocatedKeys: sql`${kmeLinks.allocatedKeys} + ${keys}`, updatedAt: sql`now()` })
      .where(eq(kmeLinks.linkId, linkId));
    return;
  }
  if (KeysRetrieved.is(e)) {
    const first = e.data.key_IDs[0];
    if (!first) return;
    const requestId = requestIdOf(first).requestId;
    const [row] = await tx.select().from(kmeKeyRequests).where(eq(kmeKeyRequests.requestId, requestId));
    if (!row) return;
    const retrieved = { ...row.retrieved, [e.data.slave_SAE_ID]: (row.retrieved[e.data.slave_SAE_ID] ?? 0) + e.data.key_IDs.length };
    const done = row.slaveSaeIds.every((s) => (retrieved[s] ?? 0) >= row.keyCount);
    await tx
      .update(kmeKeyRequests)
      .set({ retrieved, status: done ? 'retrieved' : row.status })
      .where(eq(kmeKeyRequests.requestId, requestId));
    return;
  }
  if (KeysExpired.is(e)) {
    await tx.update(kmeKeyRequests).set({ status: 'expired' }).where(eq(kmeKeyRequests.requestId, e.data.request_id));
    return;
  }
  if (BlocksErased.is(e)) {
    const linkId = d.subject.split('.')[1] ?? '';
    await tx
      .update(kmeLinks)
      .set({ erasedBlocks: sql`${kmeLinks.erasedBlocks} + ${e.data.block_seqs.length}` })
      .where(eq(kmeLinks.linkId, linkId));
  }
}

/** Material received per link from KEY_SUPPLY (block sizes only; the blocks stay sealed on the stream). */
export const keySupplyProjection: Projection = {
  name: 'kme_supply',
  stream: 'KEY_SUPPLY',
  tables: [kmeSupply],
  async apply(tx, events) {
    const byLink = new Map<string, { bytes: number; blocks: number; at: string }>();
    for (const d of events) {
      if (!BlockAdded.is(d.event)) continue;
      const sum = byLink.get(d.event.data.link_id) ?? { bytes: 0, blocks: 0, at: d.event.at };
      byLink.set(d.event.data.link_id, { bytes: sum.bytes + d.event.data.bytes, blocks: sum.blocks + 1, at: d.event.at });
    }
    for (const [linkId, s] of byLink) {
      await tx
        .insert(kmeSupply)
        .values({ linkId, suppliedBytes: s.bytes, blocks: s.blocks, lastBlockAt: s.at })
        .onConflictDoUpdate({
          target: kmeSupply.linkId,
          set: { suppliedBytes: sql`${kmeSupply.suppliedBytes} + ${s.bytes}`, blocks: sql`${kmeSupply.blocks} + ${s.blocks}`, lastBlockAt: s.at },
        });
    }
  },
};
