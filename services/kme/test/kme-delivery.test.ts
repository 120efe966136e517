// A request's keys are recorded by their allocation event alone: what a slave retrieves, how often, and what the audit
// trail lists. Two KME workers on their own connections, as two replicas.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, createEvent, loadAggregate, request, type Bus, type Caller } from '@vigil/bus';
import { open, uuidv7 } from '@vigil/crypto';
import { blockContext, containerBytesBound, etsiMessages, KmeBadRequestError, kmeSubjects, openAtEdge, parseEncKeysBatchReply, parseSealedKeyContainer, type EncKeysBatch } from '@vigil/kme-contract';
import { LinkSimulator } from '@vigil/qkd-sim';
import { BlockAdded, KeyAccessGranted, KeyAccessRefused, KeysAllocated, KeysDelivered, KeysRetrieved, StreamName } from '@vigil/schemas';
import { testLogger, type TestBus } from '@vigil/testkit';
import { anchorOf, keyIdOf, requestIdFor, requestIdOf } from '../src/key-ids.ts';
import { startKmeFixture, twoKmes, type KmeFixture } from './kme-fixture.ts';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 64, max_key_count: 100_000, max_SAE_ID_count: 1 };
const sae = (id: string): Caller => ({ actor: { kind: 'sae', id } });
let fixture: KmeFixture;
let t: TestBus;
let other: Bus;
let sim: LinkSimulator;

before(async () => {
  fixture = await startKmeFixture({ topology: twoKmes(limits, ['SAE_B2']) });
  t = fixture.t;
  other = await t.connect('kme-2');
  await fixture.startWorker(other);
  sim = new LinkSimulator({ bus: t.bus, ring: fixture.ring, logger: testLogger(), linkId: 'AB', rateBps: 1 });
});
after(async () => {
  await fixture.close();
});

const enc = (data: object, bus: Bus = t.bus) =>
  request(bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', ...data }, { caller: sae('SAE_A'), timeoutMs: 5000, parse: parseSealedKeyContainer }).then((c) => openAtEdge(fixture.ring, c));
const dec = (keyIds: readonly string[], bus: Bus = t.bus, slave = 'SAE_B') =>
  request(bus, kmeSubjects.decKeys, { master_SAE_ID: 'SAE_A', key_IDs: keyIds }, { caller: sae(slave), timeoutMs: 5000, parse: parseSealedKeyContainer }).then((c) => openAtEdge(fixture.ring, c));
const settled = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
const requestSubjectOf = (keyId: string) => `keyreq.AB.req.${requestIdOf(keyId).requestId}`;

async function auditSince(seq: number) {
  const audit = await loadAggregate(t.bus, 'audit._platform.key_access');
  return audit.events.filter((e) => e.seq > seq);
}

async function lastAuditSeq(): Promise<number> {
  return (await loadAggregate(t.bus, 'audit._platform.key_access')).lastSequence;
}

describe('delivery recorded by the allocation event', () => {
  test("a link's first allocation is anchored at the link's configuration; later ones at the pool event before them", async () => {
    for (let i = 0; i < 4; i++) await sim.publishBlock(4096);
    const topology = await loadAggregate(t.bus, 'keyreq._topology');
    const configured = topology.events.filter((e) => e.event.type === 'kme.topology.link_configured').at(-1);
    const first = await enc({ number: 2 });
    assert.equal(anchorOf(first.keys[0]?.key_ID ?? ''), configured?.seq);
    const pool = await loadAggregate(t.bus, 'keyreq.AB.pool');
    const second = await enc({});
    assert.equal(anchorOf(second.keys[0]?.key_ID ?? ''), pool.lastSequence);
    for (const got of [first, second]) assert.equal((await loadAggregate(t.bus, requestSubjectOf(got.keys[0]?.key_ID ?? ''))).lastSequence, 0, 'no event on the request subject');
    assert.equal((await dec(first.keys.map((k) => k.key_ID))).keys.length, 2);
    assert.deepEqual(await dec(second.keys.map((k) => k.key_ID), other), second);
  });

  test('concurrent retrievals on two workers of a request with no event yet: exactly one succeeds, recorded once', async () => {
    for (let round = 0; round < 5; round++) {
      const delivered = await Promise.all(Array.from({ length: 12 }, (_, i) => enc({ number: 1 + (i % 3) }, i % 2 === 0 ? t.bus : other)));
      for (const got of delivered) assert.equal((await loadAggregate(t.bus, requestSubjectOf(got.keys[0]?.key_ID ?? ''))).lastSequence, 0);
      const attempts = await Promise.all(delivered.flatMap((got) => [t.bus, other, t.bus].map((bus) => settled(dec(got.keys.map((k) => k.key_ID), bus)))));
      for (let i = 0; i < delivered.length; i++) {
        const mine = attempts.slice(3 * i, 3 * i + 3);
        const won = mine.flatMap((a) => (a.ok ? [a.value] : []));
        assert.equal(won.length, 1, 'exactly one of three concurrent retrievals succeeds');
        assert.deepEqual(won[0], delivered[i]);
        for (const a of mine) if (!a.ok) assert.ok(a.error instanceof KmeBadRequestError && a.error.message === etsiMessages.keysNotFound);
        const events = await loadAggregate(t.bus, requestSubjectOf(delivered[i]?.keys[0]?.key_ID ?? ''));
        assert.deepEqual(
          events.events.map((e) => e.event.type),
          ['kme.keys.retrieved'],
          'the one retrieval is the request subject\'s only event',
        );
      }
    }
  });

  test('multicast: each slave retrieves once; a key_ID of no allocation is not found', async () => {
    const got = await enc({ number: 2, additional_slave_SAE_IDs: ['SAE_B2'] });
    const ids = got.keys.map((k) => k.key_ID);
    assert.deepEqual(await dec(ids, other, 'SAE_B2'), got);
    assert.deepEqual(await dec(ids), got);
    await assert.rejects(dec(ids, other, 'SAE_B2'), KmeBadRequestError);
    // A well-formed id pointing at a real pool event, but naming a position it does not hold.
    const forged = keyIdOf(requestIdFor(anchorOf(ids[0] ?? ''), 4000), 0);
    await assert.rejects(dec([forged]), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound);
  });

  test('a dec_keys naming keys of several requests, one of them spent, is refused whole: the others stay retrievable', async () => {
    const first = await enc({ number: 1 });
    const second = await enc({ number: 1 });
    const [a, b] = [first.keys[0]?.key_ID ?? '', second.keys[0]?.key_ID ?? ''];
    await dec([b]);
    await assert.rejects(dec([a, b]), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound);
    assert.deepEqual((await loadAggregate(t.bus, requestSubjectOf(a))).events, [], 'the first request was not marked retrieved');
    assert.deepEqual(await dec([a], other), first);
  });

  test('a request of v1 (its KeysDelivered event on its own subject) is still retrieved, once', async () => {
    const blockSeq = await sim.publishBlock(64);
    const stored = await t.bus.jsm.streams.getMessage(t.bus.names.stream(StreamName.KeySupply), { seq: blockSeq });
    const block: unknown = stored?.json();
    assert.ok(BlockAdded.is(block));
    const material = open(fixture.ring, { kekId: block.data.kek_id, data: Buffer.from(block.data.sealed, 'base64') }, blockContext(block.data.block_id));
    // Claim the whole block the way v1 did: an allocation on the pool, then the delivery on the request's subject.
    const requestId = `${uuidv7().slice(0, 32)}0000`;
    const allocation = {
      request_id: requestId,
      kme_id: 'KME_A',
      master_SAE_ID: 'SAE_A',
      slave_SAE_IDs: ['SAE_B'],
      key_count: 2,
      key_bits: 256,
      ranges: [{ block_seq: blockSeq, offset: 0, length: 64 }],
      expires_at: new Date(Date.now() + 60_000).toISOString(),
    };
    const pool = await loadAggregate(t.bus, 'keyreq.AB.pool');
    const last = pool.events.at(-1)?.event;
    assert.ok(last && KeysAllocated.is(last));
    await append(t.bus, 'keyreq.AB.pool', createEvent(KeysAllocated, { allocations: [allocation], next: { block_seq: blockSeq + 1, offset: 0 } }, { actor: { kind: 'service', id: 'kme' } }), { expectedLastSubjectSequence: pool.lastSequence });
    await append(t.bus, `keyreq.AB.req.${requestId}`, createEvent(KeysDelivered, allocation, { actor: { kind: 'sae', id: 'SAE_A' } }));

    const ids = [keyIdOf(requestId, 1), keyIdOf(requestId, 0)];
    const got = await dec(ids, other);
    assert.deepEqual(got.keys, [
      { key_ID: ids[0], key: material.subarray(32, 64).toString('base64') },
      { key_ID: ids[1], key: material.subarray(0, 32).toString('base64') },
    ]);
    await assert.rejects(dec(ids), KmeBadRequestError);
    // The workers' cached pool head is stale now: their next allocation conflicts once, reloads and goes on (after
    // the claimed block, whatever came before it left behind).
    for (let i = 0; i < 4; i++) await sim.publishBlock(4096);
    assert.equal((await enc({})).keys.length, 1);
  });
});

describe('audit of deliveries', () => {
  test('the records of concurrent enc_keys list exactly the delivered key_IDs, once each, with SAEs and sizes, never key bytes', async () => {
    const from = await lastAuditSeq();
    const requests = Array.from({ length: 24 }, (_, i) => ({ number: 1 + (i % 4), size: i % 2 === 0 ? 256 : 512 }));
    const delivered = await Promise.all(requests.map((r, i) => enc(r, i % 2 === 0 ? t.bus : other)));
    const records = (await auditSince(from)).map((e) => e.event).filter((e) => KeyAccessGranted.is(e) && e.data.operation === 'enc_keys');
    const listed: string[] = [];
    for (const record of records) {
      assert.ok(KeyAccessGranted.is(record));
      assert.equal(record.actor.id, 'SAE_A');
      assert.equal(record.data.sae_id, 'SAE_A');
      assert.equal(record.data.kme_id, 'KME_A');
      assert.equal(record.data.link_id, 'AB');
      for (const d of record.data.deliveries) {
        assert.equal(d.master_SAE_ID, 'SAE_A');
        assert.deepEqual(d.slave_SAE_IDs, ['SAE_B']);
        listed.push(...d.key_IDs);
        const i = delivered.findIndex((got) => got.keys.some((k) => k.key_ID === d.key_IDs[0]));
        assert.equal(d.key_bits, requests[i]?.size, 'the size of the keys of that request');
        assert.deepEqual(d.key_IDs, delivered[i]?.keys.map((k) => k.key_ID), 'a delivery lists its request\'s keys, in order');
      }
    }
    const ids = delivered.flatMap((got) => got.keys.map((k) => k.key_ID));
    assert.equal(listed.length, ids.length, 'no key_ID listed twice');
    assert.deepEqual(new Set(listed), new Set(ids), 'every delivered key_ID listed');
    const text = JSON.stringify(records);
    for (const got of delivered) for (const k of got.keys) assert.ok(!text.includes(k.key), 'no key bytes');
  });

  test('a dec_keys is one record of the keys the slave got', async () => {
    const a = await enc({ number: 3 });
    const b = await enc({ number: 2 });
    const from = await lastAuditSeq();
    const asked = [...a.keys.slice(1), ...b.keys].map((k) => k.key_ID);
    await dec(asked, other);
    const records = (await auditSince(from)).map((e) => e.event).filter((e) => KeyAccessGranted.is(e));
    assert.equal(records.length, 1);
    const [record] = records;
    assert.ok(record && KeyAccessGranted.is(record));
    assert.equal(record.data.operation, 'dec_keys');
    assert.equal(record.actor.id, 'SAE_B');
    assert.equal(record.data.kme_id, 'KME_B');
    assert.deepEqual(record.data.deliveries.flatMap((d) => d.key_IDs).sort(), [...asked].sort());
    const retrieved = await loadAggregate(t.bus, requestSubjectOf(asked[0] ?? ''));
    assert.ok(retrieved.events.every((e) => KeysRetrieved.is(e.event)));
  });
});

describe('a batch of enc_keys from an edge', () => {
  test('each request is answered, audited and refused as if it came alone; those that would not fit come back "alone", unallocated', async () => {
    for (let i = 0; i < 6; i++) await sim.publishBlock(64 * 1024);
    const from = await lastAuditSeq();
    const poolBefore = (await loadAggregate(t.bus, 'keyreq.AB.pool')).events.length;
    const item = (id: string, data: object, i: number) => ({ caller: { actor: { kind: 'sae' as const, id } }, correlation_id: `batch-${i}`, data: { slave_SAE_ID: 'SAE_B', ...data } });
    const large = { number: 64, size: 1024 };
    const batch: EncKeysBatch = {
      requests: [
        item('SAE_A', { number: 2 }, 0),
        item('SAE_A', { size: 257 }, 1),
        item('SAE_NOBODY', {}, 2),
        item('SAE_A', { number: -1 }, 3),
        ...Array.from({ length: 40 }, (_, i) => item('SAE_A', large, 4 + i)),
      ],
    };
    const { results } = await request(t.bus, kmeSubjects.encKeysBatch, batch, { timeoutMs: 10_000, parse: parseEncKeysBatchReply });
    assert.equal(results.length, batch.requests.length);
    const [good, badSize, unknown, malformed, ...rest] = results;
    assert.ok(good && 'keys' in good && good.keys.keys.length === 2);
    assert.deepEqual(badSize, { error: { code: 'KME_BAD_REQUEST', message: etsiMessages.sizeMultipleOf8 } });
    assert.ok(unknown && 'error' in unknown && unknown.error.code === 'KME_UNAUTHORIZED');
    assert.ok(malformed && 'error' in malformed && malformed.error.code === 'KME_BAD_REQUEST' && /bad request format/.test(malformed.error.message));
    // Sized in order against half of what one bus message holds: the first ones fit, the rest are sent back.
    const fit = Math.floor((t.bus.nc.info?.max_payload ?? 1024 * 1024) / 2 / containerBytesBound(64, 1024)) - 1;
    const served = rest.filter((r) => 'keys' in r).length;
    assert.ok(served >= fit && served < rest.length, `${served} of ${rest.length} large requests answered in the batch`);
    assert.ok(rest.slice(served).every((r) => 'alone' in r), 'only the ones after the room ran out are sent back');

    const keys = results.flatMap((r) => ('keys' in r ? openAtEdge(fixture.ring, r.keys).keys : []));
    assert.equal(new Set(keys.map((k) => k.key_ID)).size, keys.length);
    assert.equal(new Set(keys.map((k) => k.key)).size, keys.length);
    assert.equal(keys.length, 2 + 64 * served);
    const pool = await loadAggregate(t.bus, 'keyreq.AB.pool');
    const allocated = pool.events.slice(poolBefore).flatMap((e) => (KeysAllocated.is(e.event) ? e.event.data.allocations : []));
    assert.equal(allocated.length, 1 + served, 'nothing allocated for the requests sent back');

    const records = (await auditSince(from)).map((e) => e.event);
    const refused = records.filter((e) => KeyAccessRefused.is(e));
    assert.deepEqual(refused.map((e) => (KeyAccessRefused.is(e) ? [e.data.sae_id, e.data.status, e.correlation_id] : [])).sort(), [
      ['SAE_A', 400, 'batch-1'],
      ['SAE_A', 400, 'batch-3'],
      ['SAE_NOBODY', 401, 'batch-2'],
    ]);
    const deliveries = records.flatMap((e) => (KeyAccessGranted.is(e) ? e.data.deliveries : []));
    assert.deepEqual(new Set(deliveries.flatMap((d) => d.key_IDs)), new Set(keys.map((k) => k.key_ID)));
    assert.equal(deliveries.find((d) => d.key_IDs.includes(keys[0]?.key_ID ?? ''))?.correlation_id, 'batch-0', 'each delivery names its own request');
  });
});
