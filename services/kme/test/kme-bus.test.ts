// The KME worker through the real bus (no edge): what the edge sends, what SAEs get back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { loadAggregate, request, type Bus, type Caller } from '@vigil/bus';
import { kekRing } from '@vigil/crypto';
import { etsiMessages, KmeBadRequestError, KmeUnauthorizedError, KmeUnavailableError, kmeSubjects, openAtEdge, parseSealedKeyContainer, parseStatus } from '@vigil/kme-contract';
import { LinkSimulator } from '@vigil/qkd-sim';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import fc from 'fast-check';
import { applyTopology, KmeWorker, type TopologyDeclaration } from '../src/index.ts';

const ring = kekRing({ id: 'k1', key: randomBytes(32) });
const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 64, max_key_count: 100_000, max_SAE_ID_count: 2 };
const pin = 'a'.repeat(64);
const topology: TopologyDeclaration = {
  kmes: [{ id: 'KME_A' }, { id: 'KME_B' }, { id: 'KME_C' }],
  saes: [
    { id: 'SAE_A', kme: 'KME_A' },
    { id: 'SAE_B', kme: 'KME_B' },
    { id: 'SAE_B2', kme: 'KME_B' },
    { id: 'SAE_B3', kme: 'KME_B' },
    { id: 'SAE_C', kme: 'KME_C' },
    { id: 'SAE_PINNED', kme: 'KME_A', certificate_sha256: pin },
  ],
  links: [
    { id: 'AB', kmes: ['KME_A', 'KME_B'], rate_bps: 1_000_000, limits },
    { id: 'AC', kmes: ['KME_A', 'KME_C'], rate_bps: 1_000_000, limits },
  ],
};

const sae = (id: string, certificateSha256?: string): Caller => ({ actor: { kind: 'sae', id }, ...(certificateSha256 ? { certificateSha256 } : {}) });

let t: TestBus;
const workers: KmeWorker[] = [];
let sim: LinkSimulator;

async function startWorker(bus: Bus): Promise<KmeWorker> {
  const w = new KmeWorker({ bus, ring, keyTtlSeconds: 3600, logger: testLogger('kme') });
  await w.start();
  workers.push(w);
  return w;
}

const enc = (caller: Caller, data: object, bus: Bus = t.bus) => request(bus, kmeSubjects.encKeys, data, { caller, timeoutMs: 5000, parse: parseSealedKeyContainer }).then((c) => openAtEdge(ring, c));
const dec = (caller: Caller, data: object, bus: Bus = t.bus) => request(bus, kmeSubjects.decKeys, data, { caller, timeoutMs: 5000, parse: parseSealedKeyContainer }).then((c) => openAtEdge(ring, c));

before(async () => {
  t = await startTestBus();
  const applied = await applyTopology(t.bus, topology);
  const w = await startWorker(t.bus);
  await w.topologyReaches(applied.seq);
  sim = new LinkSimulator({ bus: t.bus, ring, logger: testLogger('sim'), linkId: 'AB', rateBps: 1 });
  for (let i = 0; i < 8; i++) await sim.publishBlock(64 * 1024);
});
after(async () => {
  for (const w of workers) await w.stop();
  await t.close();
});

describe('KME over the bus', () => {
  test('status for a master/slave pair (sizes in bits)', async () => {
    const status = await request(t.bus, kmeSubjects.status, { slave_SAE_ID: 'SAE_B' }, { caller: sae('SAE_A'), timeoutMs: 5000, parse: parseStatus });
    assert.equal(status.source_KME_ID, 'KME_A');
    assert.equal(status.target_KME_ID, 'KME_B');
    assert.equal(status.master_SAE_ID, 'SAE_A');
    assert.equal(status.key_size, 256);
    assert.ok(status.stored_key_count >= 8 * 2048 - 64);
    assert.equal(status.max_SAE_ID_count, 2);
  });

  test('enc_keys by the master, dec_keys by the slave: identical keys, once', async () => {
    const got = await enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', number: 3, size: 512 });
    assert.equal(got.keys.length, 3);
    for (const k of got.keys) assert.equal(Buffer.from(k.key, 'base64').length, 64);
    const back = await dec(sae('SAE_B'), { master_SAE_ID: 'SAE_A', key_IDs: got.keys.map((k) => k.key_ID).reverse() });
    assert.deepEqual(back.keys, [...got.keys].reverse());
    await assert.rejects(dec(sae('SAE_B'), { master_SAE_ID: 'SAE_A', key_IDs: [got.keys[0]?.key_ID] }), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound);
  });

  test('only the slave(s) named may retrieve: a third SAE and the master get 401', async () => {
    const got = await enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B' });
    const ids = got.keys.map((k) => k.key_ID);
    await assert.rejects(dec(sae('SAE_B2'), { master_SAE_ID: 'SAE_A', key_IDs: ids }), KmeUnauthorizedError);
    // The master is on the other KME: no link joins KME_A to itself, so its keys are not found there.
    await assert.rejects(dec(sae('SAE_A'), { master_SAE_ID: 'SAE_A', key_IDs: ids }), KmeBadRequestError);
    assert.equal((await dec(sae('SAE_B'), { master_SAE_ID: 'SAE_A', key_IDs: ids })).keys.length, 1);
  });

  test('multicast: every listed slave gets the same key, once each', async () => {
    const got = await enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', additional_slave_SAE_IDs: ['SAE_B2'], number: 2 });
    const ids = got.keys.map((k) => k.key_ID);
    assert.deepEqual(await dec(sae('SAE_B'), { master_SAE_ID: 'SAE_A', key_IDs: ids }), got);
    assert.deepEqual(await dec(sae('SAE_B2'), { master_SAE_ID: 'SAE_A', key_IDs: ids }), got);
    await assert.rejects(dec(sae('SAE_B3'), { master_SAE_ID: 'SAE_A', key_IDs: ids }), KmeUnauthorizedError);
    await assert.rejects(enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', additional_slave_SAE_IDs: ['SAE_C'] }), /not attached to KME KME_B/);
  });

  test('unknown SAEs, wrong certificate pins and non-SAE callers are 401', async () => {
    await assert.rejects(enc(sae('SAE_NOBODY'), { slave_SAE_ID: 'SAE_B' }), KmeUnauthorizedError);
    await assert.rejects(enc(sae('SAE_PINNED', 'b'.repeat(64)), { slave_SAE_ID: 'SAE_B' }), KmeUnauthorizedError);
    await assert.rejects(enc(sae('SAE_PINNED'), { slave_SAE_ID: 'SAE_B' }), KmeUnauthorizedError);
    assert.equal((await enc(sae('SAE_PINNED', pin), { slave_SAE_ID: 'SAE_B' })).keys.length, 1);
    await assert.rejects(enc({ actor: { kind: 'user', id: 'SAE_A' } }, { slave_SAE_ID: 'SAE_B' }), KmeUnauthorizedError);
  });

  test('a link without material answers 503 at once, with a message', async () => {
    await assert.rejects(enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_C' }), (e: unknown) => e instanceof KmeUnavailableError && /keys are not available/.test(e.message));
  });

  test('bad requests change nothing and say why', async () => {
    const before = await t.bus.jsm.streams.info(t.bus.names.stream('KEY_REQUEST'));
    await assert.rejects(enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', size: 257 }), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.sizeMultipleOf8);
    await assert.rejects(enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', number: 65 }), /max_key_per_request/);
    await assert.rejects(enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', number: -1 }), /bad request format/);
    await assert.rejects(enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', extension_mandatory: [{ x_route: 1 }] }), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.extensionMandatoryUnsupported);
    await assert.rejects(dec(sae('SAE_B'), { master_SAE_ID: 'SAE_A', key_IDs: ['not-a-uuid'] }), /bad request format/);
    const afterInfo = await t.bus.jsm.streams.info(t.bus.names.stream('KEY_REQUEST'));
    assert.equal(afterInfo.state.messages, before.state.messages);
  });

  test('deliveries and refusals are audited without key bytes', async () => {
    const got = await enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B' });
    const audit = await loadAggregate(t.bus, 'audit._platform.key_access');
    const text = JSON.stringify(audit.events);
    assert.ok(text.includes(got.keys[0]?.key_ID ?? 'missing'));
    assert.ok(!text.includes(got.keys[0]?.key ?? 'missing'));
    assert.ok(audit.events.some((e) => e.event.type === 'audit.kme.key_access_refused'));
  });
});

describe('under concurrency, across two KME workers', () => {
  test('no key_ID or key material is handed out twice, and every key is retrievable exactly once by its slave', async () => {
    const other = await t.connect('kme-2');
    await startWorker(other);
    const seenIds = new Set<string>();
    const seenKeys = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ number: fc.integer({ min: 1, max: 8 }), bytes: fc.integer({ min: 8, max: 128 }), viaOther: fc.boolean() }), { minLength: 2, maxLength: 24 }), async (requests) => {
        const results = await Promise.all(requests.map((r) => enc(sae('SAE_A'), { slave_SAE_ID: 'SAE_B', number: r.number, size: r.bytes * 8 }, r.viaOther ? other : t.bus)));
        for (const got of results) {
          for (const k of got.keys) {
            assert.ok(!seenIds.has(k.key_ID), `key_ID ${k.key_ID} handed out twice`);
            assert.ok(!seenKeys.has(k.key), 'key material handed out twice');
            seenIds.add(k.key_ID);
            seenKeys.add(k.key);
          }
        }
        const retrievals = await Promise.all(results.flatMap((got) => [got, got].map((g, i) => dec(sae('SAE_B'), { master_SAE_ID: 'SAE_A', key_IDs: g.keys.map((k) => k.key_ID) }, i === 0 ? t.bus : other).then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e })))));
        for (let i = 0; i < results.length; i++) {
          const pair = [retrievals[2 * i], retrievals[2 * i + 1]];
          const ok = pair.filter((p) => p?.ok);
          assert.equal(ok.length, 1, 'exactly one of two concurrent retrievals succeeds');
          const winner = ok[0];
          if (winner?.ok) assert.deepEqual(winner.r, results[i]);
        }
      }),
      { numRuns: 10 },
    );
  });
});
