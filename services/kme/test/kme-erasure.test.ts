// Spent key material is erased from KEY_SUPPLY; expired keys are gone for their slaves.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadAggregate, request, type Caller } from '@vigil/bus';
import type { KekRing } from '@vigil/crypto';
import { etsiMessages, kmeSubjects, openAtEdge, parseSealedKeyContainer } from '@vigil/kme-contract';
import { LinkSimulator } from '@vigil/qkd-sim';
import { BlocksErased } from '@vigil/schemas';
import { testLogger, type TestBus } from '@vigil/testkit';
import { Eraser } from '../src/index.ts';
import { startKmeFixture, twoKmes, type KmeFixture } from './kme-fixture.ts';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 8, max_key_count: 1000, max_SAE_ID_count: 0 };
const sae = (id: string): Caller => ({ actor: { kind: 'sae', id } });
let t: TestBus;
let fixture: KmeFixture;
let ring: KekRing;
let eraser: Eraser;
let secondBlock = 0;

before(async () => {
  fixture = await startKmeFixture({ topology: twoKmes(limits), keyTtlSeconds: 60 });
  ({ t, ring } = fixture);
  // The sweeps are driven by the test (a long interval keeps the timer out of the way).
  eraser = new Eraser({ bus: t.bus, logger: testLogger(), intervalMs: 3_600_000 });
  await eraser.start();
});
after(async () => {
  await eraser.stop();
  await fixture.close();
});

const enc = (number: number) => request(t.bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', number }, { caller: sae('SAE_A'), timeoutMs: 5000, parse: parseSealedKeyContainer }).then((c) => openAtEdge(ring, c));
const dec = (ids: string[]) => request(t.bus, kmeSubjects.decKeys, { master_SAE_ID: 'SAE_A', key_IDs: ids }, { caller: sae('SAE_B'), timeoutMs: 5000, parse: parseSealedKeyContainer });

async function blockStored(seq: number): Promise<boolean> {
  const m = await t.bus.jsm.streams.getMessage(t.bus.names.stream('KEY_SUPPLY'), { seq }).catch(() => null);
  return m !== null;
}

async function settle(): Promise<void> {
  const info = await t.bus.jsm.streams.info(t.bus.names.stream('KEY_REQUEST'));
  await eraser.reach(info.state.last_seq);
}

test('a block is erased once its keys are all retrieved; not before', async () => {
  const sim = new LinkSimulator({ bus: t.bus, ring, logger: testLogger(), linkId: 'AB', rateBps: 1 });
  const first = await sim.publishBlock(64);
  const second = await sim.publishBlock(64);
  secondBlock = second;

  const a = await enc(2); // all of the first block
  await settle();
  assert.deepEqual(await eraser.sweep(), { expired: 0, erased: 0 }, 'delivered but not retrieved: kept');
  assert.ok(await blockStored(first));

  await dec(a.keys.map((k) => k.key_ID));
  await settle();
  assert.equal((await eraser.sweep()).erased, 1);
  assert.equal(await blockStored(first), false, 'the spent block is erased');
  assert.equal(await blockStored(second), true, 'the unused block stays');

  // A retrieval after erasure finds nothing, rather than resurrecting material.
  await assert.rejects(dec(a.keys.map((k) => k.key_ID)), (e: unknown) => e instanceof Error && e.message === etsiMessages.keysNotFound);
});

test('keys not collected before their TTL expire, and their block then goes', async () => {
  const b = await enc(1); // half of the second block
  const c = await enc(1); // the other half
  await dec(c.keys.map((k) => k.key_ID));
  await settle();
  assert.equal((await eraser.sweep()).erased, 0, 'one key of the block is still waiting for its slave');

  const later = Date.now() + 61_000;
  const expiring = await eraser.sweep(later);
  assert.equal(expiring.expired, 1);
  await settle();
  // The expiry may reach the ledger within the same sweep: count the erasures of both.
  assert.equal(expiring.erased + (await eraser.sweep(later)).erased, 1);
  assert.equal(await blockStored(secondBlock), false);
  await assert.rejects(dec(b.keys.map((k) => k.key_ID)), (e: unknown) => e instanceof Error && e.message === etsiMessages.keysNotFound);
});

test('two replicas erasing the same spent block record it once', async () => {
  const other = new Eraser({ bus: await t.connect('eraser-2'), logger: testLogger(), intervalMs: 3_600_000 });
  await other.start();
  try {
    const sim = new LinkSimulator({ bus: t.bus, ring, logger: testLogger(), linkId: 'AB', rateBps: 1 });
    const block = await sim.publishBlock(64);
    const keys = await enc(2);
    await dec(keys.keys.map((k) => k.key_ID));
    const info = await t.bus.jsm.streams.info(t.bus.names.stream('KEY_REQUEST'));
    await eraser.reach(info.state.last_seq);
    await other.reach(info.state.last_seq);
    await Promise.all([eraser.sweep(), other.sweep()]);
    assert.equal(await blockStored(block), false);
    const erasures = (await loadAggregate(t.bus, 'keyreq.AB.erasure')).events.filter((e) => BlocksErased.is(e.event) && e.event.data.block_seqs.includes(block));
    assert.equal(erasures.length, 1);
  } finally {
    await other.stop();
  }
});
