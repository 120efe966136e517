import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { serve, type BusRequest, type Served, type VigilError } from '@vigil/bus';
import { etsiMessages, KmeBadRequestError, KmeUnauthorizedError, KmeUnavailableError, kmeSubjects, sealForEdge } from '@vigil/kme-contract';
import { certificateSha256, type IssuedCertificate } from '@vigil/pki';
import { etsiClient, sampleStatus, startTestEtsi, type EtsiAnswer, type EtsiClient, type EtsiUnderTest } from './etsi-harness.ts';

let etsi: EtsiUnderTest;
let saeA: IssuedCertificate;
let client: EtsiClient;
/** What the test worker does with the next request on each subject. */
const behaviour = new Map<string, (request: BusRequest<unknown>) => Promise<unknown>>();
const received: { subject: string; request: BusRequest<unknown> }[] = [];
const served: Served[] = [];

before(async () => {
  etsi = await startTestEtsi();
  saeA = await etsi.sae({ saeId: 'SAE_A' });
  client = etsiClient(etsi, saeA);
  for (const subject of [kmeSubjects.encKeys, kmeSubjects.decKeys]) {
    served.push(
      serve(etsi.workerBus, {
        subject,
        parse: (data) => data,
        handle: async (request) => {
          received.push({ subject, request });
          const act = behaviour.get(subject);
          if (!act) throw new Error(`no behaviour for ${subject}`);
          return act(request);
        },
      }),
    );
  }
});
after(async () => {
  await client.close();
  for (const s of served) await s.stop();
  await etsi.close();
});

/** Keys the test worker hands out: known material, sealed for the edge as the KME worker seals it. */
function sealedKeys(count: number, bytes = 32): { material: Map<string, Buffer>; container: ReturnType<typeof sealForEdge> } {
  const material = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) material.set(randomUUID(), randomBytes(bytes));
  return { material, container: sealForEdge(etsi.ring, [...material].map(([key_ID, m]) => ({ key_ID, material: Buffer.from(m) }))) };
}

function lastReceived(subject: string): BusRequest<unknown> {
  const found = received.filter((r) => r.subject === subject).at(-1);
  assert.ok(found, `the worker received a request on ${subject}`);
  return found.request;
}

/** The ETSI Error data format (Table 13): a JSON body with a message and, maybe, details; never problem+json. */
function etsiError(res: EtsiAnswer, status: number): { message: string; details: unknown[] } {
  assert.equal(res.status, status, res.text);
  assert.match(res.contentType, /^application\/json/);
  assert.equal(typeof res.body['message'], 'string', res.text);
  assert.deepEqual(Object.keys(res.body).filter((k) => k !== 'message' && k !== 'details'), [], res.text);
  const details = res.body['details'];
  if (details !== undefined) assert.ok(Array.isArray(details) && details.every((d) => typeof d === 'object' && d !== null && !Array.isArray(d)), res.text);
  return { message: String(res.body['message']), details: Array.isArray(details) ? details : [] };
}


describe('Get status', () => {
  test('reaches the KME worker as the SAE of the certificate, and answers its Status', async () => {
    const calls: BusRequest<unknown>[] = [];
    const responder = serve(etsi.workerBus, {
      subject: kmeSubjects.status,
      parse: (data) => data,
      handle: async (request) => {
        calls.push(request);
        return sampleStatus;
      },
    });
    try {
      const res = await client.call('GET', '/api/v1/keys/SAE_B/status');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, sampleStatus);
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0]?.data, { slave_SAE_ID: 'SAE_B' });
      assert.deepEqual(calls[0]?.caller, { actor: { kind: 'sae', id: 'SAE_A' }, certificateSha256: certificateSha256(saeA.certificatePem) });
    } finally {
      await responder.stop();
    }
  });

  test('with no KME worker → 503 "the KME is not available"', async () => {
    const res = await client.call('GET', '/api/v1/keys/SAE_B/status');
    assert.equal(etsiError(res, 503).message, 'the KME is not available');
  });

  test('the path id is URL-decoded; an id that is not an SAE ID → 400', async () => {
    behaviour.set(kmeSubjects.encKeys, async () => sealedKeys(1).container);
    assert.equal((await client.call('GET', '/api/v1/keys/SAE%3AB/enc_keys')).status, 200);
    assert.deepEqual(lastReceived(kmeSubjects.encKeys).data, { slave_SAE_ID: 'SAE:B' });
    const bad = etsiError(await client.call('GET', '/api/v1/keys/SAE%20B/status'), 400);
    assert.match(bad.message, /SAE ID in the URL/);
    assert.ok(bad.details.some((d) => JSON.stringify(d).includes('slave_SAE_ID')));
  });
});

describe('Get key', () => {
  test('POST: the Key request reaches the worker; sealed keys come out as base64 keys', async () => {
    const { material, container } = sealedKeys(2);
    behaviour.set(kmeSubjects.encKeys, async () => container);
    const res = await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', { number: 2, size: 256, additional_slave_SAE_IDs: ['SAE_C'], extension_optional: [{ abc_max_age: 30000 }] });
    assert.equal(res.status, 200, res.text);
    const request = lastReceived(kmeSubjects.encKeys);
    assert.deepEqual(request.data, { slave_SAE_ID: 'SAE_B', number: 2, size: 256, additional_slave_SAE_IDs: ['SAE_C'], extension_optional: [{ abc_max_age: 30000 }] });
    assert.deepEqual(request.caller, { actor: { kind: 'sae', id: 'SAE_A' }, certificateSha256: certificateSha256(saeA.certificatePem) });
    assert.deepEqual(res.body, { keys: [...material].map(([key_ID, m]) => ({ key_ID, key: m.toString('base64') })) });
  });

  test('POST with no body, or an empty one, is the empty Key request', async () => {
    behaviour.set(kmeSubjects.encKeys, async () => sealedKeys(1).container);
    assert.equal((await client.call('POST', '/api/v1/keys/SAE_B/enc_keys')).status, 200);
    assert.deepEqual(lastReceived(kmeSubjects.encKeys).data, { slave_SAE_ID: 'SAE_B' });
    assert.equal((await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', '', { 'content-type': 'application/json' })).status, 200);
    assert.equal((await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', {})).status, 200);
    assert.deepEqual(lastReceived(kmeSubjects.encKeys).data, { slave_SAE_ID: 'SAE_B' });
  });

  test('GET with number and size as query parameters', async () => {
    const { material, container } = sealedKeys(3, 64);
    behaviour.set(kmeSubjects.encKeys, async () => container);
    const res = await client.call('GET', '/api/v1/keys/SAE_B/enc_keys?number=3&size=512');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(lastReceived(kmeSubjects.encKeys).data, { slave_SAE_ID: 'SAE_B', number: 3, size: 512 });
    assert.equal(Array.isArray(res.body['keys']) && res.body['keys'].length, material.size);
  });

  test('GET query values that are not whole numbers, out of range, repeated or unknown → 400 naming the parameter', async () => {
    const before = received.length;
    for (const [query, name] of [
      ['number=3.5', 'number'],
      ['number=-1', 'number'],
      ['number=0', 'number'],
      ['number=1e3', 'number'],
      ['number=', 'number'],
      ['size=abc', 'size'],
      ['size=0x10', 'size'],
      ['number=1&number=2', 'number'],
      ['number=1&additional_slave_SAE_IDs=SAE_C', 'additional_slave_SAE_IDs'],
    ] as const) {
      const { message, details } = etsiError(await client.call('GET', `/api/v1/keys/SAE_B/enc_keys?${query}`), 400);
      assert.match(message, /query parameters/, query);
      assert.ok(details.some((d) => typeof d === 'object' && d !== null && name in d), `${query}: ${JSON.stringify(details)}`);
    }
    assert.equal(received.length, before, 'nothing reached the worker');
  });

  test('POST bodies of the wrong shape → 400 with details, nothing reaches the worker', async () => {
    const before = received.length;
    const cases: [Record<string, unknown>, string, string][] = [
      [{ number: '3' }, 'number', 'must be integer'],
      [{ number: -2 }, 'number', 'must be >= 1'],
      [{ size: 2.5 }, 'size', 'must be integer'],
      [{ number: 1, colour: 'blue' }, 'colour', 'is not allowed'],
      [{ additional_slave_SAE_IDs: 'SAE_C' }, 'additional_slave_SAE_IDs', 'must be array'],
      [{ additional_slave_SAE_IDs: [7] }, 'additional_slave_SAE_IDs/0', 'must be string'],
      [{ extension_mandatory: ['abc_route_type'] }, 'extension_mandatory/0', 'must be object'],
    ];
    for (const [body, field, problem] of cases) {
      const { message, details } = etsiError(await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', body), 400);
      assert.match(message, /ETSI GS QKD 014 data format/);
      assert.deepEqual(details[0], { [field]: problem }, JSON.stringify(body));
    }
    assert.equal(received.length, before);
  });

  test('malformed JSON, a body that is not JSON, and an oversized body → 400 with a message', async () => {
    assert.equal(etsiError(await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', '{"number": 1,', { 'content-type': 'application/json' }), 400).message, 'the request body is not valid JSON');
    assert.equal(etsiError(await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', 'number=1', { 'content-type': 'text/plain' }), 400).message, 'the request body must be application/json');
    for (const notAnObject of ['null', '[]', '3']) {
      etsiError(await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', notAnObject, { 'content-type': 'application/json' }), 400);
    }
    const huge = { extension_optional: [{ abc_padding: 'x'.repeat(70 * 1024) }] };
    assert.equal(etsiError(await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', huge), 400).message, 'the request body is larger than 65536 bytes');
  });

  test("the KME's bad request keeps its message and details", async () => {
    behaviour.set(kmeSubjects.encKeys, async () => {
      const err: VigilError = new KmeBadRequestError(etsiMessages.extensionMandatoryUnsupported);
      err.details = [{ extension_mandatory_unsupported: 'abc_route_type is not supported' }];
      throw err;
    });
    const res = await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', { extension_mandatory: [{ abc_route_type: 'direct' }] });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { message: 'not all extension_mandatory parameters are supported', details: [{ extension_mandatory_unsupported: 'abc_route_type is not supported' }] });
  });

  test("the KME's 401 and 503 keep their status and message", async () => {
    behaviour.set(kmeSubjects.encKeys, async () => {
      throw new KmeUnauthorizedError('SAE_A is not registered on this KME');
    });
    assert.deepEqual(etsiError(await client.call('GET', '/api/v1/keys/SAE_B/enc_keys'), 401).message, 'SAE_A is not registered on this KME');
    behaviour.set(kmeSubjects.encKeys, async () => {
      throw new KmeUnavailableError('the QKD link has no keys left');
    });
    assert.deepEqual(etsiError(await client.call('GET', '/api/v1/keys/SAE_B/enc_keys'), 503).message, 'the QKD link has no keys left');
  });

  test('a worker that does not answer in time → 503', async () => {
    behaviour.set(kmeSubjects.encKeys, () => new Promise((resolve) => setTimeout(() => resolve(sealedKeys(1).container), 1500)));
    assert.equal(etsiError(await client.call('GET', '/api/v1/keys/SAE_B/enc_keys'), 503).message, 'the KME did not answer in time');
  });

  test('a worker answer outside the contract → 500 "internal error", logged', async () => {
    behaviour.set(kmeSubjects.encKeys, async () => ({ keys: [{ key_ID: 'nope' }] }));
    const res = await client.call('GET', '/api/v1/keys/SAE_B/enc_keys');
    assert.deepEqual(res.body, { message: 'internal error' });
    assert.equal(res.status, 500);
    assert.ok(etsi.logs.lines.some((l) => l['msg'] === 'ETSI request failed'));
  });
});

describe('Get key with key IDs', () => {
  test('POST: the key IDs reach the worker with the master SAE of the URL', async () => {
    const { material, container } = sealedKeys(2);
    behaviour.set(kmeSubjects.decKeys, async () => container);
    const ids = [...material.keys()];
    const res = await client.call('POST', '/api/v1/keys/SAE_M/dec_keys', { key_IDs: ids.map((key_ID) => ({ key_ID })) });
    assert.equal(res.status, 200, res.text);
    const request = lastReceived(kmeSubjects.decKeys);
    assert.deepEqual(request.data, { master_SAE_ID: 'SAE_M', key_IDs: ids });
    assert.equal(request.caller?.actor.id, 'SAE_A');
    assert.deepEqual(res.body, { keys: [...material].map(([key_ID, m]) => ({ key_ID, key: m.toString('base64') })) });
  });

  test('GET with one key_ID', async () => {
    const { container } = sealedKeys(1);
    behaviour.set(kmeSubjects.decKeys, async () => container);
    const id = container.keys[0]?.key_ID ?? '';
    assert.equal((await client.call('GET', `/api/v1/keys/SAE_M/dec_keys?key_ID=${id}`)).status, 200);
    assert.deepEqual(lastReceived(kmeSubjects.decKeys).data, { master_SAE_ID: 'SAE_M', key_IDs: [id] });
  });

  test("the KME's key-not-found answer", async () => {
    behaviour.set(kmeSubjects.decKeys, async () => {
      throw new KmeBadRequestError(etsiMessages.keysNotFound);
    });
    assert.deepEqual((await client.call('GET', `/api/v1/keys/SAE_M/dec_keys?key_ID=${randomUUID()}`)).body, { message: 'one or more keys specified are not found on KME' });
  });

  test('bad Key IDs → 400 with details', async () => {
    const before = received.length;
    const cases: [unknown, string, string][] = [
      [{ key_IDs: [{ key_ID: 'not-a-uuid' }] }, 'key_IDs/0/key_ID', 'must match format "uuid"'],
      [{ key_IDs: ['f81d4fae-7dec-11d0-a765-00a0c91e6bf6'] }, 'key_IDs/0', 'must be object'],
      [{ key_IDs: [] }, 'key_IDs', 'must not have fewer than 1 items'],
      [{}, 'key_IDs', 'is required'],
      [{ key_IDs: [{ key_ID: randomUUID() }], master: 'x' }, 'master', 'is not allowed'],
    ];
    for (const [body, field] of cases) {
      const { details } = etsiError(await client.call('POST', '/api/v1/keys/SAE_M/dec_keys', JSON.stringify(body), { 'content-type': 'application/json' }), 400);
      assert.ok(details.some((d) => typeof d === 'object' && d !== null && field in d), `${JSON.stringify(body)}: ${JSON.stringify(details)}`);
    }
    etsiError(await client.call('POST', '/api/v1/keys/SAE_M/dec_keys'), 400);
    etsiError(await client.call('GET', '/api/v1/keys/SAE_M/dec_keys?key_ID=12'), 400);
    etsiError(await client.call('GET', '/api/v1/keys/SAE_M/dec_keys'), 400);
    etsiError(await client.call('GET', `/api/v1/keys/SAE_M/dec_keys?key_ID=${randomUUID()}&number=1`), 400);
    assert.equal(received.length, before);
  });
});

describe('the listener', () => {
  test('an unknown route answers 404 in the ETSI format', async () => {
    const { message } = etsiError(await client.call('GET', '/api/v2/keys/SAE_B/status?token=x'), 404);
    assert.doesNotMatch(message, /token/);
    etsiError(await client.call('POST', '/api/v1/keys/SAE_B/status'), 404);
  });

  test('no key material, request body or response body reaches the log', async () => {
    const { material, container } = sealedKeys(1);
    behaviour.set(kmeSubjects.encKeys, async () => container);
    await client.call('POST', '/api/v1/keys/SAE_B/enc_keys', { number: 1, extension_optional: [{ abc_marker: 'marker-4711' }] });
    const log = etsi.logs.lines.map((l) => JSON.stringify(l)).join('\n');
    for (const m of material.values()) {
      assert.ok(!log.includes(m.toString('base64')), 'no key in the log');
      assert.ok(!log.includes(m.toString('hex')), 'no key in the log');
    }
    assert.ok(!log.includes('marker-4711'), 'no request body in the log');
    assert.ok(!log.includes('PRIVATE KEY'));
  });
});
