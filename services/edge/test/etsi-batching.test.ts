// The edge gathers the small enc_keys requests of one event-loop turn into one bus message: each still gets its own
// answer (keys, its own error, or a second trip alone), and a failed round trip fails each request it carried.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import { serve, WorkerTimeoutError, type BusRequest, type Served } from '@vigil/bus';
import { kekRing } from '@vigil/crypto';
import { KmeBadRequestError, KmeUnavailableError, kmeSubjects, sealForEdge, type EncKeysOutcome, type SaeCaller } from '@vigil/kme-contract';
import { withContext } from '@vigil/log';
import { startTestBus, type TestBus } from '@vigil/testkit';
import { EncKeysBatcher } from '../src/etsi/enc-keys-batcher.ts';

const ring = kekRing({ id: 'k1', key: randomBytes(32) });
const sae = (id: string): SaeCaller => ({ actor: { kind: 'sae', id }, certificateSha256: 'c'.repeat(64) });
const container = () => sealForEdge(ring, [{ key_ID: randomUUID(), material: randomBytes(32) }]);

let t: TestBus;
let batcher: EncKeysBatcher;
let served: Served[] = [];
const batches: BusRequest<unknown>[] = [];
const alone: BusRequest<unknown>[] = [];

before(async () => {
  t = await startTestBus();
  batcher = new EncKeysBatcher(await t.connect('edge'), 500);
});
beforeEach(async () => {
  for (const s of served) await s.stop();
  served = [];
  batches.length = 0;
  alone.length = 0;
});
after(async () => {
  for (const s of served) await s.stop();
  await t.close();
});

/** Test workers: one answering batches with the given outcomes, one answering requests sent alone. */
async function workers(outcomes?: (request: BusRequest<unknown>) => Promise<EncKeysOutcome[]>) {
  const bus = await t.connect('worker');
  const single = container();
  served.push(
    serve(bus, {
      subject: kmeSubjects.encKeys,
      parse: (data) => data,
      handle: async (request) => {
        alone.push(request);
        return single;
      },
    }),
  );
  if (outcomes) {
    served.push(
      serve(bus, {
        subject: kmeSubjects.encKeysBatch,
        parse: (data) => data,
        handle: async (request) => {
          batches.push(request);
          return { results: await outcomes(request) };
        },
      }),
    );
  }
  // The subscriptions are in place at the server before any request is sent.
  await bus.nc.flush();
  return single;
}

const ask = (i: number, number = 1) => withContext({ correlationId: `corr-${i}` }, () => batcher.keys(sae(`SAE_${i}`), { slave_SAE_ID: 'SAE_B', number }, 0));
const settle = (promises: Promise<unknown>[]) => Promise.allSettled(promises);

test('requests of one turn travel together; each gets its own keys, its own error, or a trip alone', async () => {
  const first = container();
  const single = await workers(async () => [
    { keys: first },
    { error: { code: 'KME_UNAVAILABLE', message: 'keys are not available' } },
    { error: { code: 'KME_BAD_REQUEST', message: 'not all extension_mandatory parameters are supported', details: [{ extension_mandatory_unsupported: 'x is not supported' }] } },
    { alone: true },
  ]);
  const [a, b, c, d] = await settle([ask(0), ask(1), ask(2), ask(3)]);
  assert.equal(batches.length, 1, 'one bus message');
  assert.deepEqual(batches[0]?.data, {
    requests: [0, 1, 2, 3].map((i) => ({ caller: sae(`SAE_${i}`), correlation_id: `corr-${i}`, data: { slave_SAE_ID: 'SAE_B', number: 1 } })),
  });
  assert.deepEqual(a, { status: 'fulfilled', value: first });
  assert.ok(b?.status === 'rejected' && b.reason instanceof KmeUnavailableError && b.reason.message === 'keys are not available');
  const refused: unknown = c?.status === 'rejected' ? c.reason : undefined;
  assert.ok(refused instanceof KmeBadRequestError);
  assert.deepEqual('details' in refused ? refused.details : undefined, [{ extension_mandatory_unsupported: 'x is not supported' }]);
  assert.deepEqual(d, { status: 'fulfilled', value: single }, 'the one answered "alone" went again on its own');
  assert.equal(alone.length, 1);
  assert.deepEqual(alone[0]?.caller, sae('SAE_3'));
  assert.equal(alone[0]?.correlationId, 'corr-3');
});

test('a lone request, and one of more than 16 keys, go on their own', async () => {
  await workers(async (request) => {
    throw new Error(`no batch expected: ${JSON.stringify(request.data)}`);
  });
  await ask(0);
  await Promise.all([ask(1, 17), ask(2)]);
  assert.equal(batches.length, 0);
  assert.deepEqual(alone.map((r) => [r.caller?.actor.id, r.data]).sort(), [
    ['SAE_0', { slave_SAE_ID: 'SAE_B', number: 1 }],
    ['SAE_1', { slave_SAE_ID: 'SAE_B', number: 17 }],
    ['SAE_2', { slave_SAE_ID: 'SAE_B', number: 1 }],
  ]);
});

test('with no worker taking batches (an older KME), each request goes on its own', async () => {
  const single = await workers();
  const answers = await Promise.all([ask(0), ask(1), ask(2)]);
  assert.deepEqual(answers, [single, single, single]);
  assert.deepEqual(alone.map((r) => r.caller?.actor.id).sort(), ['SAE_0', 'SAE_1', 'SAE_2']);
});

test('a round trip that fails fails each request it carried, as it would have failed each alone', async () => {
  // Answers, but after the edge stopped waiting.
  await workers(() => new Promise((resolve) => setTimeout(() => resolve([]), 1500)));
  const results = await settle([ask(0), ask(1)]);
  assert.equal(batches.length, 1);
  for (const r of results) assert.ok(r.status === 'rejected' && r.reason instanceof WorkerTimeoutError);
  assert.equal(alone.length, 0);
});
