import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { etsiMessages, KmeBadRequestError, KmeUnauthorizedError, KmeUnavailableError } from '@vigil/kme-contract';
import fc from 'fast-check';
import { keyAccessRecords, type Handed } from '../src/key-access-records.ts';
import { anchorOf, keyIdOf, maxAnchor, requestIdFor, requestIdOf } from '../src/key-ids.ts';
import { decideKeyRequest, evolveKeyRequest, initialKeyRequest, isSpent, keyRequestDeciderFrom, type Delivery, type RequestEvent } from '../src/key-request.ts';
import { containerBytesBound } from '@vigil/kme-contract';
import { availableBytes, checkKeyRequest, decideAllocations, keyMaterial, keysPerAnswer, type EncKeysCommand, type SupplyBlock } from '../src/pool.ts';

/** One command's allocation: its ranges and the cursor after it, or the refusal. */
function decideAllocation(command: EncKeysCommand, _link: Link, blocks: readonly SupplyBlock[], cursor: { blockSeq: number; offset: number } | undefined) {
  const decision = decideAllocations([command], blocks, cursor);
  const refused = decision.refused.get(command.requestId);
  if (refused) throw refused;
  const allocation = decision.draft?.data.allocations[0];
  if (!decision.draft || !allocation) throw new Error('no allocation');
  return { data: { ranges: allocation.ranges, next: decision.draft.data.next } };
}
import type { TopologyDeclaration } from '@vigil/kme-contract';
import { declarationOf, decideTopology, emptyTopology, evolveTopology, topologyEvents, type Link } from '../src/topology.ts';
import { envelope, isEventOf } from '@vigil/bus';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 128, max_key_count: 1000, max_SAE_ID_count: 2 };
const link: Link = { id: 'AB', kmeIds: ['KME_A', 'KME_B'], limits, rateBps: 1_000_000 };

describe('key request rules (ETSI GS QKD 014 clause 6.2)', () => {
  const base = { master: 'SAE_A', slave: 'SAE_B' };
  test('defaults: one key of key_size', () => {
    assert.deepEqual(checkKeyRequest(link, base), { number: 1, bits: 256, slaves: ['SAE_B'] });
  });
  const refused: [string, Parameters<typeof checkKeyRequest>[1], RegExp][] = [
    ['size not a multiple of 8', { ...base, size: 100 }, /^size shall be a multiple of 8$/],
    ['size below min_key_size', { ...base, size: 56 }, /min_key_size/],
    ['size above max_key_size', { ...base, size: 1032 }, /max_key_size/],
    ['number above max_key_per_request', { ...base, number: 129 }, /max_key_per_request/],
    ['number zero', { ...base, number: 0 }, /positive integer/],
    ['too many additional slaves', { ...base, additional: ['C', 'D', 'E'] }, /max_SAE_ID_count/],
    ['the master as additional slave', { ...base, additional: ['SAE_A'] }, /master SAE/],
    ['the slave repeated', { ...base, additional: ['SAE_B'] }, /repeat/],
    ['a duplicate additional slave', { ...base, additional: ['C', 'C'] }, /repeat/],
    ['the slave is the master', { master: 'SAE_A', slave: 'SAE_A' }, /slave SAE shall not be the master/],
  ];
  for (const [name, request, message] of refused) {
    test(`refused: ${name}`, () => {
      assert.throws(() => checkKeyRequest(link, request), (err: unknown) => err instanceof KmeBadRequestError && message.test(err.message));
    });
  }
  test('unsupported extension_mandatory names each parameter in details', () => {
    assert.throws(
      () => checkKeyRequest(link, { ...base, extensionMandatory: [{ abc_route_type: 'direct' }, { abc_transfer_method: 'qkd' }] }),
      (err: unknown) => {
        assert.ok(err instanceof KmeBadRequestError);
        assert.equal(err.message, etsiMessages.extensionMandatoryUnsupported);
        assert.ok('details' in err);
        assert.deepEqual(err.details, [{ extension_mandatory_unsupported: 'abc_route_type is not supported' }, { extension_mandatory_unsupported: 'abc_transfer_method is not supported' }]);
        return true;
      },
    );
  });
  test('multicast: the slave then the additional slaves', () => {
    assert.deepEqual(checkKeyRequest(link, { ...base, additional: ['SAE_C'] }).slaves, ['SAE_B', 'SAE_C']);
  });
});

describe('what one answer holds', () => {
  test('the most keys of a size one bus message carries: exact against the container bound', () => {
    const room = 1024 * 1024 - 16 * 1024;
    for (const bits of [64, 256, 1024, 8192]) {
      const most = keysPerAnswer(bits, room);
      assert.ok(containerBytesBound(most, bits) <= room && containerBytesBound(most + 1, bits) > room, `${bits} bits: ${most}`);
    }
    assert.ok(keysPerAnswer(256, room) >= 1024, 'the bench\'s 1024 keys of 256 bits fit');
    assert.ok(keysPerAnswer(8192, room) < 1024, '1024 keys of 8192 bits (1 MiB of material) do not: refused with a 400, never a failed reply');
  });
});

describe('allocation', () => {
  const blocks: SupplyBlock[] = [
    { seq: 3, bytes: 100 },
    { seq: 7, bytes: 50 },
    { seq: 9, bytes: 1000 },
  ];
  const command = { requestId: requestIdFor(7, 0), kmeId: 'KME_A', master: 'SAE_A', slaves: ['SAE_B'], number: 4, bits: 256, expiresAt: new Date().toISOString() };

  test('given fresh supply, when keys are requested, then material is taken in order across blocks', () => {
    const draft = decideAllocation(command, link, blocks, undefined);
    assert.deepEqual(draft.data.ranges, [
      { block_seq: 3, offset: 0, length: 100 },
      { block_seq: 7, offset: 0, length: 28 },
    ]);
    assert.deepEqual(draft.data.next, { block_seq: 7, offset: 28 });
    const whole = decideAllocation({ ...command, number: 5, bits: 160 }, link, blocks, undefined);
    assert.deepEqual(whole.data.next, { block_seq: 4, offset: 0 }, "a block used to its end moves the cursor past it");
  });

  test('given a cursor, allocation starts there and never reuses what is before it', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 20 }), (numbers) => {
        let cursor: { blockSeq: number; offset: number } | undefined;
        const used = new Set<string>();
        for (const n of numbers) {
          let draft;
          try {
            draft = decideAllocation({ ...command, number: n, bits: 64 }, link, blocks, cursor);
          } catch (err) {
            assert.ok(err instanceof KmeUnavailableError);
            assert.ok(availableBytes(blocks, cursor) < n * 8);
            continue;
          }
          let total = 0;
          for (const r of draft.data.ranges) {
            for (let b = r.offset; b < r.offset + r.length; b++) {
              const key = `${r.block_seq}:${b}`;
              assert.ok(!used.has(key), `byte ${key} allocated twice`);
              used.add(key);
            }
            total += r.length;
          }
          assert.equal(total, n * 8);
          cursor = { blockSeq: draft.data.next.block_seq, offset: draft.data.next.offset };
        }
      }),
    );
  });

  test('a group commit decides several requests in order; one too large is refused alone', () => {
    const commands = [4, 1000, 2].map((number, position) => ({ ...command, requestId: requestIdFor(7, position), number }));
    const decision = decideAllocations(commands, blocks, undefined);
    assert.deepEqual(
      decision.draft?.data.allocations.map((a) => a.key_count),
      [4, 2],
    );
    assert.ok(decision.refused.get(commands[1]?.requestId ?? '') instanceof KmeUnavailableError);
    assert.deepEqual(decision.draft?.data.allocations[1]?.ranges, [{ block_seq: 7, offset: 28, length: 22 }, { block_seq: 9, offset: 0, length: 42 }]);
  });

  test('not enough material is 503 with the count that is there', () => {
    assert.throws(() => decideAllocation({ ...command, number: 100 }, link, blocks, undefined), (err: unknown) => err instanceof KmeUnavailableError && /holds 35 key/.test(err.message));
  });

  test('key material is cut from the joined ranges', () => {
    const bytes = new Map([
      [3, Buffer.from('abcdefgh')],
      [7, Buffer.from('ijklmnop')],
    ]);
    const ranges = [
      { block_seq: 3, offset: 5, length: 3 },
      { block_seq: 7, offset: 0, length: 5 },
    ];
    const at = (seq: number) => bytes.get(seq) ?? Buffer.alloc(0);
    assert.equal(keyMaterial(ranges, 16, 0, at).toString(), 'fg');
    assert.equal(keyMaterial(ranges, 16, 1, at).toString(), 'hi');
    assert.equal(keyMaterial(ranges, 16, 3, at).toString(), 'lm');
    assert.throws(() => keyMaterial(ranges, 16, 4, at), RangeError);
  });
});

describe('one request\'s keys', () => {
  const requestId = requestIdFor(7, 0);
  const delivered: Delivery = {
    request_id: requestId,
    kme_id: 'KME_A',
    master_SAE_ID: 'SAE_A',
    slave_SAE_IDs: ['SAE_B', 'SAE_C'],
    key_count: 2,
    key_bits: 256,
    ranges: [{ block_seq: 1, offset: 0, length: 64 }],
    expires_at: new Date(Date.now() + 60_000).toISOString(),
  };
  const envelope = { id: '01890a5d-ac96-774b-bcce-b302099a8057', at: new Date().toISOString(), actor: { kind: 'system' as const, id: 't' }, correlation_id: 'c' };
  const given = (...events: RequestEvent[]) => events.reduce(evolveKeyRequest, initialKeyRequest);
  const deliveredEvent: RequestEvent = { ...envelope, type: 'kme.keys.delivered', v: 1, data: delivered };

  test('given delivered, when the slave retrieves, then retrieved', () => {
    const events = decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_B', indexes: [0, 1] }, given(deliveredEvent));
    assert.deepEqual(events, [{ type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: 'SAE_B', key_IDs: [keyIdOf(requestId, 0), keyIdOf(requestId, 1)] } }]);
  });

  test('given retrieved by a slave, when it asks again, then not found; the other slave still may', () => {
    const retrieved: RequestEvent = { ...envelope, type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: 'SAE_B', key_IDs: [keyIdOf(requestId, 0)] } };
    const state = given(deliveredEvent, retrieved);
    assert.throws(() => decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_B', indexes: [0] }, state), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound);
    assert.equal(decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_B', indexes: [1] }, state).length, 1);
    assert.equal(decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_C', indexes: [0] }, state).length, 1);
    assert.equal(isSpent(state), false);
  });

  test('a third SAE, or the master itself, is 401', () => {
    for (const sae of ['SAE_X', 'SAE_A']) {
      assert.throws(() => decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: sae, indexes: [0] }, given(deliveredEvent)), KmeUnauthorizedError);
    }
  });

  test('unknown request, wrong master, index out of range, or expired: not found', () => {
    const notFound = (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound;
    assert.throws(() => decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_B', indexes: [0] }, initialKeyRequest), notFound);
    assert.throws(() => decideKeyRequest({ kind: 'retrieve', master: 'SAE_Z', slave: 'SAE_B', indexes: [0] }, given(deliveredEvent)), notFound);
    assert.throws(() => decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_B', indexes: [2] }, given(deliveredEvent)), notFound);
    const expired: RequestEvent = { ...envelope, type: 'kme.keys.expired', v: 1, data: { request_id: requestId } };
    assert.throws(() => decideKeyRequest({ kind: 'retrieve', master: 'SAE_A', slave: 'SAE_B', indexes: [0] }, given(deliveredEvent, expired)), notFound);
  });

  test('spent once every slave has every key; expiry of a spent request decides nothing', () => {
    const all = (slave: string): RequestEvent => ({ ...envelope, type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: slave, key_IDs: [keyIdOf(requestId, 0), keyIdOf(requestId, 1)] } });
    const state = given(deliveredEvent, all('SAE_B'), all('SAE_C'));
    assert.equal(isSpent(state), true);
    assert.deepEqual(decideKeyRequest({ kind: 'expire', requestId, now: new Date() }, state), []);
  });

  describe('delivered by its allocation event (no event on the request subject)', () => {
    const decider = keyRequestDeciderFrom(delivered);
    const from = (...events: RequestEvent[]) => events.reduce(decider.evolve, decider.initialState());
    const retrieve = (slave: string, indexes: number[]) => ({ kind: 'retrieve' as const, master: 'SAE_A', slave, indexes });

    test('given only the allocation, when the slave retrieves, then retrieved', () => {
      assert.deepEqual(decider.decide(retrieve('SAE_B', [1]), from()), [{ type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: 'SAE_B', key_IDs: [keyIdOf(requestId, 1)] } }]);
    });

    test('given the allocation and a retrieval, when the slave asks again, then not found; a third SAE is 401', () => {
      const retrieved: RequestEvent = { ...envelope, type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: 'SAE_B', key_IDs: [keyIdOf(requestId, 0), keyIdOf(requestId, 1)] } };
      assert.throws(() => decider.decide(retrieve('SAE_B', [0]), from(retrieved)), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound);
      assert.throws(() => decider.decide(retrieve('SAE_X', [0]), from()), KmeUnauthorizedError);
    });

    test('given every slave has every key, expiry decides nothing; given none, it expires', () => {
      const all = (slave: string): RequestEvent => ({ ...envelope, type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: slave, key_IDs: [keyIdOf(requestId, 0), keyIdOf(requestId, 1)] } });
      assert.deepEqual(decider.decide({ kind: 'expire', requestId, now: new Date() }, from(all('SAE_B'), all('SAE_C'))), []);
      assert.deepEqual(decider.decide({ kind: 'expire', requestId, now: new Date() }, from()), [{ type: 'kme.keys.expired', v: 1, data: { request_id: requestId } }]);
    });

    test('without an allocation (none found), nothing is retrievable', () => {
      const none = keyRequestDeciderFrom(undefined);
      assert.throws(() => none.decide(retrieve('SAE_B', [0]), none.initialState()), (e: unknown) => e instanceof KmeBadRequestError && e.message === etsiMessages.keysNotFound);
    });
  });
});

describe('audit records of keys handed out', () => {
  const delivery = (request: string, count: number): Delivery => ({
    request_id: request,
    kme_id: 'KME_A',
    master_SAE_ID: 'SAE_A',
    slave_SAE_IDs: ['SAE_B'],
    key_count: count,
    key_bits: 256,
    ranges: [{ block_seq: 1, offset: 0, length: 32 * count }],
    expires_at: new Date().toISOString(),
  });
  const handed = (sae: string, request: string, count: number): Handed => ({ saeId: sae, delivery: delivery(request, count), keyIds: Array.from({ length: count }, (_, i) => keyIdOf(request, i)), correlationId: `c-${request}` });

  test('each key_ID handed out is listed exactly once, by the SAE that got it, within the size limit', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ sae: fc.constantFrom('SAE_A', 'SAE_Z'), count: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 50 }), (requests, limit) => {
        const list = requests.map((r, position) => handed(r.sae, requestIdFor(11, position), r.count));
        const records = keyAccessRecords(list, limit);
        for (const sae of ['SAE_A', 'SAE_Z']) {
          const mine = records.get(sae) ?? [];
          const listed = mine.flat().flatMap((d) => d.key_IDs);
          assert.deepEqual(listed, list.filter((h) => h.saeId === sae).flatMap((h) => h.keyIds), `${sae}: every key once, in order`);
          for (const record of mine) {
            assert.ok(record.length > 0);
            assert.ok(record.reduce((n, d) => n + d.key_IDs.length, 0) <= limit);
          }
          for (const d of mine.flat()) assert.equal(d.correlation_id, `c-${requestIdOf(d.key_IDs[0] ?? '').requestId}`, 'each delivery names its request');
        }
      }),
    );
  });

  test('a group commit of single keys for one SAE is one record', () => {
    const records = keyAccessRecords([0, 1, 2].map((p) => handed('SAE_A', requestIdFor(11, p), 1)));
    assert.equal(records.get('SAE_A')?.length, 1);
    assert.deepEqual(records.get('SAE_A')?.[0]?.map((d) => d.key_IDs.length), [1, 1, 1]);
  });
});

describe('key ids', () => {
  test('carry their request and index, and are valid UUIDv7s', () => {
    const r = requestIdFor(123_456, 17);
    for (const i of [0, 1, 255, 65_535]) {
      const id = keyIdOf(r, i);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(requestIdOf(id), { requestId: r, index: i });
    }
    assert.throws(() => keyIdOf(r, 65_536), RangeError);
  });

  test('a request id holds its anchor and position: distinct for every (anchor, position), in any millisecond', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: maxAnchor }), fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 2 ** 48 - 1 }), (anchor, position, now) => {
        const id = requestIdFor(anchor, position, now);
        assert.equal(anchorOf(id), anchor);
        assert.equal(anchorOf(keyIdOf(id, 9).toUpperCase()), anchor, 'from any key_ID of it, in any case');
        assert.notEqual(requestIdFor(anchor, position === 0 ? 1 : position - 1, now), id);
        assert.notEqual(requestIdFor(anchor === 1 ? 2 : anchor - 1, position, now), id);
        assert.equal(id.slice(0, 13).replace('-', ''), now.toString(16).padStart(12, '0'), 'time-ordered like any UUIDv7');
      }),
    );
    assert.throws(() => requestIdFor(0, 0), RangeError);
    assert.throws(() => requestIdFor(maxAnchor + 1, 0), RangeError);
    assert.throws(() => requestIdFor(1, 4096), RangeError);
    assert.equal(anchorOf('01890a5d-ac96-774b-bcce-b302099a0000'), 0, 'an id of another layout has none');
  });
});

describe('topology', () => {
  const abLink: TopologyDeclaration['links'][number] = { id: 'AB', kmes: ['KME_A', 'KME_B'], rate_bps: 1000, limits };
  const declaration: TopologyDeclaration = {
    kmes: [{ id: 'KME_A' }, { id: 'KME_B' }],
    saes: [
      { id: 'SAE_A', kme: 'KME_A' },
      { id: 'SAE_B', kme: 'KME_B' },
    ],
    links: [abLink],
  };
  const declare = (d: TopologyDeclaration) => ({ kind: 'declare' as const, declaration: d });
  const given = (drafts: ReturnType<typeof decideTopology>) =>
    drafts.reduce((state, draft) => {
      const event = envelope(draft, { actor: { kind: 'system', id: 'test' } });
      return isEventOf(topologyEvents, event) ? evolveTopology(state, event) : state;
    }, emptyTopology);

  test('applying a declaration twice changes nothing the second time', () => {
    const events = decideTopology(declare(declaration), emptyTopology);
    assert.equal(events.length, 5);
    assert.deepEqual(decideTopology(declare(declaration), given(events)), []);
  });
  test('a changed limit is one event', () => {
    const state = given(decideTopology(declare(declaration), emptyTopology));
    const changed = decideTopology(declare({ ...declaration, links: [{ ...abLink, limits: { ...limits, max_key_count: 5 } }] }), state);
    assert.deepEqual(changed.map((e) => e.type), ['kme.topology.link_configured']);
  });
  test('the topology reads back as the declaration it came from, and an SAE is removed by name', () => {
    const state = given(decideTopology(declare(declaration), emptyTopology));
    assert.deepEqual(decideTopology(declare(declarationOf(state)), state), [], 'applying what GET answers changes nothing');
    assert.deepEqual(declarationOf(state).saes.map((s) => s.id), ['SAE_A', 'SAE_B']);
    const removed = decideTopology({ kind: 'remove_sae', saeId: 'SAE_B' }, state);
    assert.deepEqual(removed.map((e) => e.type), ['kme.topology.sae_removed']);
    assert.deepEqual(declarationOf(given([...decideTopology(declare(declaration), emptyTopology), ...removed])).saes.map((s) => s.id), ['SAE_A']);
    assert.throws(() => decideTopology({ kind: 'remove_sae', saeId: 'NOPE' }, state), /not known/);
  });
  test('bad limits, unknown KMEs and a second link between the same KMEs are refused', () => {
    assert.throws(() => decideTopology(declare({ ...declaration, links: [{ ...abLink, limits: { ...limits, key_size: 100 } }] }), emptyTopology), /multiple of 8/);
    assert.throws(() => decideTopology(declare({ ...declaration, saes: [{ id: 'S', kme: 'NOPE' }] }), emptyTopology), /unknown KME/);
    assert.throws(() => decideTopology(declare({ ...declaration, links: [abLink, { ...abLink, id: 'BA', kmes: ['KME_B', 'KME_A'] }] }), emptyTopology), /joined by link AB/);
  });
});
