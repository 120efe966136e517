// ETSI GS QKD 014 end to end: SAEs with client certificates, over HTTPS, through two edges and two KME workers,
// fed by the QKD link simulator — every process as Vigil runs it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { edgeService } from '@vigil/edge';
import { identityService } from '@vigil/identity';
import { kmeService } from '@vigil/kme';
import { createKekFile } from '@vigil/kme-contract';
import { initPki, issueSaeCertificate, loadCa } from '@vigil/pki';
import { qkdSimService } from '@vigil/qkd-sim';
import { startProcess, type RunningProcess } from '@vigil/runtime';
import { createTestDatabase, postgresServerUrl, startTestNats, testNamespace, type TestDatabase, type TestNats } from '@vigil/testkit';
import fc from 'fast-check';
import { Agent, request } from 'undici';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 4096, max_key_per_request: 128, max_key_count: 20_000, max_SAE_ID_count: 2 };
let nats: TestNats;
let dir: string;
let db: TestDatabase | undefined;
const processes: RunningProcess[] = [];
let etsiUrls: string[] = [];
let httpUrl = '';
const adminPassword = 'correct horse battery staple 42';
let ca = '';
const agents = new Map<string, Agent>();

async function sae(id: string): Promise<Agent> {
  const existing = agents.get(id);
  if (existing) return existing;
  const cert = await issueSaeCertificate(loadCa(join(dir, 'pki')), { saeId: id });
  const agent = new Agent({ connect: { ca, cert: cert.certificatePem, key: cert.privateKeyPem, servername: 'localhost' } });
  agents.set(id, agent);
  return agent;
}

async function call(saeId: string | undefined, method: 'GET' | 'POST', path: string, body?: unknown, edge = 0) {
  const dispatcher = saeId ? await sae(saeId) : new Agent({ connect: { ca, servername: 'localhost' } });
  const res = await request(`${etsiUrls[edge]}${path}`, {
    method,
    dispatcher,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json: unknown = await res.body.json();
  return { status: res.statusCode, json };
}

function keysOf(json: unknown): { key_ID: string; key: string }[] {
  if (typeof json !== 'object' || json === null || !('keys' in json) || !Array.isArray(json.keys)) throw new Error(`not a key container: ${JSON.stringify(json)}`);
  return json.keys.map((k: unknown) => {
    if (typeof k !== 'object' || k === null || !('key_ID' in k) || !('key' in k) || typeof k.key_ID !== 'string' || typeof k.key !== 'string') throw new Error('bad key');
    return { key_ID: k.key_ID, key: k.key };
  });
}

before(async () => {
  nats = await startTestNats();
  dir = await mkdtemp(join(tmpdir(), 'vigil-kme-e2e-'));
  const pki = await initPki(join(dir, 'pki'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  ca = loadCa(pki.dir).certificatePem;
  createKekFile(join(dir, 'kek.json'));
  await writeFile(
    join(dir, 'topology.json'),
    JSON.stringify({
      kmes: [{ id: 'KME_A' }, { id: 'KME_B' }],
      saes: [
        { id: 'SAE_A', kme: 'KME_A' },
        { id: 'SAE_B', kme: 'KME_B' },
        { id: 'SAE_B2', kme: 'KME_B' },
        { id: 'SAE_X', kme: 'KME_B' },
      ],
      links: [{ id: 'AB', kmes: ['KME_A', 'KME_B'], rate_bps: 16_000_000, limits }],
    }),
  );
  if (await postgresServerUrl()) db = await createTestDatabase('postgres');
  const namespace = testNamespace();
  const env = (name: string): Record<string, string> => ({
    NATS_URL: nats.url,
    VIGIL_NAMESPACE: namespace,
    VIGIL_INSTANCE: name,
    VIGIL_DATA_DIR: join(dir, name),
    ...(db?.url ? { DATABASE_URL: db.url } : {}),
    VIGIL_KME_KEK_FILE: join(dir, 'kek.json'),
    VIGIL_KME_TOPOLOGY_FILE: join(dir, 'topology.json'),
    VIGIL_HTTP_PORT: '0',
    VIGIL_ETSI_PORT: '0',
    VIGIL_TLS_CERT_FILE: pki.serverCertificate,
    VIGIL_TLS_KEY_FILE: pki.serverKey,
    VIGIL_TLS_CA_FILE: pki.caCertificate,
    VIGIL_TLS_CRL_FILE: pki.crl,
    LOG_LEVEL: 'silent',
  });
  await writeFile(join(dir, 'admin-password'), adminPassword);
  const admin = { VIGIL_BOOTSTRAP_ADMIN: 'admin', VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE: join(dir, 'admin-password') };
  processes.push(await startProcess('one', [kmeService, qkdSimService, identityService, edgeService], { embeddedNats: false, env: { ...env('one'), ...admin } }));
  processes.push(await startProcess('two', [kmeService, edgeService], { embeddedNats: false, env: env('two') }));
  const endpoints = processes.flatMap((p) => p.services.flatMap((s) => s.started.endpoints ?? []));
  etsiUrls = endpoints.flatMap((e) => e.match(/^https:\/\/\S+/)?.[0] ?? []);
  httpUrl = endpoints.flatMap((e) => e.match(/^http:\/\/\S+/)?.[0] ?? [])[0] ?? '';
  assert.equal(etsiUrls.length, 2);
  // The simulator fills the pool at 16 Mb/s: wait for a few thousand keys.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { json } = await call('SAE_A', 'GET', '/api/v1/keys/SAE_B/status');
    if (typeof json === 'object' && json !== null && 'stored_key_count' in json && typeof json.stored_key_count === 'number' && json.stored_key_count > 5000) break;
    if (Date.now() > deadline) throw new Error(`the pool did not fill: ${JSON.stringify(json)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  for (const a of agents.values()) await a.close();
  for (const p of processes.reverse()) await p.stop();
  await db?.close();
  await nats.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('ETSI GS QKD 014 over mutual TLS', () => {
  test('status names both KMEs and both SAEs, sizes in bits', async () => {
    const { status, json } = await call('SAE_A', 'GET', '/api/v1/keys/SAE_B/status');
    assert.equal(status, 200);
    assert.deepEqual(
      { ...(typeof json === 'object' && json !== null ? json : {}), stored_key_count: 0 },
      { source_KME_ID: 'KME_A', target_KME_ID: 'KME_B', master_SAE_ID: 'SAE_A', slave_SAE_ID: 'SAE_B', key_size: 256, stored_key_count: 0, max_key_count: 20_000, max_key_per_request: 128, max_key_size: 4096, min_key_size: 64, max_SAE_ID_count: 2 },
    );
  });

  test('enc_keys (GET and POST, sizes from min to max) then dec_keys by the slave at the other edge: identical keys, once', async () => {
    for (const [method, number, size] of [
      ['GET', 1, 64],
      ['POST', 128, 256],
      ['POST', 3, 4096],
      ['GET', 2, 1024],
    ] as const) {
      const enc =
        method === 'GET' ? await call('SAE_A', 'GET', `/api/v1/keys/SAE_B/enc_keys?number=${number}&size=${size}`) : await call('SAE_A', 'POST', '/api/v1/keys/SAE_B/enc_keys', { number, size });
      assert.equal(enc.status, 200, JSON.stringify(enc.json));
      const keys = keysOf(enc.json);
      assert.equal(keys.length, number);
      for (const k of keys) assert.equal(Buffer.from(k.key, 'base64').length, size / 8);
      const dec =
        number === 1
          ? await call('SAE_B', 'GET', `/api/v1/keys/SAE_A/dec_keys?key_ID=${keys[0]?.key_ID}`, undefined, 1)
          : await call('SAE_B', 'POST', '/api/v1/keys/SAE_A/dec_keys', { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) }, 1);
      assert.equal(dec.status, 200, JSON.stringify(dec.json));
      assert.deepEqual(keysOf(dec.json), keys);
      const again = await call('SAE_B', 'POST', '/api/v1/keys/SAE_A/dec_keys', { key_IDs: [{ key_ID: keys[0]?.key_ID }] });
      assert.equal(again.status, 400);
      assert.deepEqual(again.json, { message: 'one or more keys specified are not found on KME' });
    }
  });

  test('a third SAE and the master are refused; a client without a certificate never gets in', async () => {
    const keys = keysOf((await call('SAE_A', 'POST', '/api/v1/keys/SAE_B/enc_keys', {})).json);
    const third = await call('SAE_X', 'POST', '/api/v1/keys/SAE_A/dec_keys', { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) });
    assert.equal(third.status, 401);
    const master = await call('SAE_A', 'POST', '/api/v1/keys/SAE_A/dec_keys', { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) });
    assert.notEqual(master.status, 200);
    await assert.rejects(call(undefined, 'GET', '/api/v1/keys/SAE_B/status'));
    assert.equal((await call('SAE_B', 'POST', '/api/v1/keys/SAE_A/dec_keys', { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) })).status, 200);
  });

  test('multicast: the same keys for every listed slave', async () => {
    const keys = keysOf((await call('SAE_A', 'POST', '/api/v1/keys/SAE_B/enc_keys', { number: 2, additional_slave_SAE_IDs: ['SAE_B2'] })).json);
    const body = { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) };
    assert.deepEqual(keysOf((await call('SAE_B', 'POST', '/api/v1/keys/SAE_A/dec_keys', body)).json), keys);
    assert.deepEqual(keysOf((await call('SAE_B2', 'POST', '/api/v1/keys/SAE_A/dec_keys', body, 1)).json), keys);
  });

  test('bad input is 400 with the ETSI error format and the spec\'s messages', async () => {
    const cases: [string, 'GET' | 'POST', string, unknown, string | RegExp][] = [
      ['size not a multiple of 8', 'POST', '/api/v1/keys/SAE_B/enc_keys', { size: 100 }, 'size shall be a multiple of 8'],
      ['size below the minimum', 'POST', '/api/v1/keys/SAE_B/enc_keys', { size: 56 }, /min_key_size/],
      ['size above the maximum', 'POST', '/api/v1/keys/SAE_B/enc_keys', { size: 4104 }, /max_key_size/],
      ['too many keys', 'POST', '/api/v1/keys/SAE_B/enc_keys', { number: 129 }, /max_key_per_request/],
      ['a negative number', 'GET', '/api/v1/keys/SAE_B/enc_keys?number=-1', undefined, /./],
      ['a string for a number', 'POST', '/api/v1/keys/SAE_B/enc_keys', { number: 'two' }, /./],
      ['the master among the slaves', 'POST', '/api/v1/keys/SAE_B/enc_keys', { additional_slave_SAE_IDs: ['SAE_A'] }, /master SAE/],
      ['a duplicate slave', 'POST', '/api/v1/keys/SAE_B/enc_keys', { additional_slave_SAE_IDs: ['SAE_B2', 'SAE_B2'] }, /repeat/],
      ['unsupported extension_mandatory', 'POST', '/api/v1/keys/SAE_B/enc_keys', { extension_mandatory: [{ abc_route_type: 'direct' }] }, 'not all extension_mandatory parameters are supported'],
      ['a key_ID that is not a UUID', 'GET', '/api/v1/keys/SAE_A/dec_keys?key_ID=nope', undefined, /./],
    ];
    for (const [name, method, path, body, message] of cases) {
      const { status, json } = await call(name.includes('key_ID') ? 'SAE_B' : 'SAE_A', method, path, body);
      assert.equal(status, 400, `${name}: ${JSON.stringify(json)}`);
      assert.ok(typeof json === 'object' && json !== null && 'message' in json && typeof json.message === 'string', name);
      if (typeof message === 'string') assert.equal(json.message, message, name);
      else assert.match(json.message, message, name);
    }
  });

  test('the pool and the QKD link are in /metrics', async () => {
    // A scrape reports the workers that answer within its short wait; a loaded machine may need another scrape.
    let text = '';
    for (let attempt = 0; attempt < 10 && !/vigil_qkd_link_rate_bps\{/.test(text); attempt++) text = await (await fetch(`${httpUrl}/metrics`)).text();
    assert.match(text, /vigil_kme_pool_keys\{link="AB"\} \d+/);
    assert.match(text, /vigil_qkd_link_rate_bps\{link="AB"\} 16000000/);
  });
});

/** Polls until a condition holds across every replica (requests land on any of them), failing after 10 s. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let streak = 0;
  while (streak < 4) {
    streak = (await check()) ? streak + 1 : 0;
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
  }
}

describe('the KME topology under RBAC', () => {
  const http = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${httpUrl}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    return { status: res.status, json };
  };
  const tokenOf = (json: unknown): string => {
    if (typeof json !== 'object' || json === null || !('access_token' in json) || typeof json.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(json)}`);
    return json.access_token;
  };
  const saeIds = (json: unknown): string[] =>
    typeof json === 'object' && json !== null && 'saes' in json && Array.isArray(json.saes) ? json.saes.flatMap((s: unknown) => (typeof s === 'object' && s !== null && 'id' in s && typeof s.id === 'string' ? [s.id] : [])) : [];

  test('a platform administrator reads, declares and removes; the KMEs act on it at once; others are refused', async () => {
    assert.equal((await http('GET', '/kme/topology')).status, 401);
    const admin = tokenOf((await http('POST', '/auth/login', undefined, { tenant: 'platform', username: 'admin', password: adminPassword })).json);
    const current = await http('GET', '/kme/topology', admin);
    assert.equal(current.status, 200);
    assert.deepEqual(saeIds(current.json).sort(), ['SAE_A', 'SAE_B', 'SAE_B2', 'SAE_X']);
    const again = await http('PUT', '/kme/topology', admin, current.json);
    assert.ok(typeof again.json === 'object' && again.json !== null && 'changes' in again.json && again.json.changes === 0, 'applying what GET answers changes nothing');

    assert.equal((await call('SAE_NEW', 'GET', '/api/v1/keys/SAE_B/status')).status, 401, 'not yet an SAE');
    const declared = await http('PUT', '/kme/topology', admin, { kmes: [], saes: [{ id: 'SAE_NEW', kme: 'KME_A' }], links: [] });
    assert.equal(declared.status, 200);
    assert.equal(typeof declared.json === 'object' && declared.json !== null && 'changes' in declared.json ? declared.json.changes : -1, 1);
    // Every KME worker learns it from the stream; the reply waited only for the worker that decided.
    await eventually(async () => (await call('SAE_NEW', 'POST', '/api/v1/keys/SAE_B/enc_keys', { number: 1 })).status === 200, 'both workers know SAE_NEW');

    assert.equal((await http('PUT', '/kme/topology', admin, { kmes: [], saes: [{ id: 'S', kme: 'NOPE' }], links: [] })).status, 400);
    assert.equal((await http('DELETE', '/kme/saes/SAE_NEW', admin)).status, 200);
    await eventually(async () => (await call('SAE_NEW', 'GET', '/api/v1/keys/SAE_B/status')).status === 401, 'SAE_NEW removed everywhere');
    assert.equal((await http('DELETE', '/kme/saes/SAE_NEW', admin)).status, 400, 'unknown now');

    const created = await http('POST', '/tenants', admin, { tenant_id: 'agency', name: 'Agency', owner: { username: 'owner', email: 'owner@agency.example', password: adminPassword } });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const owner = tokenOf((await http('POST', '/auth/login', undefined, { tenant: 'agency', username: 'owner', password: adminPassword })).json);
    assert.equal((await http('GET', '/kme/topology', owner)).status, 403, 'a tenant owner does not administer the KMEs');
    assert.equal((await http('PUT', '/kme/topology', owner, current.json)).status, 403);
  });
});

describe('under concurrency, across two edges and two KME workers', () => {
  test('no key_ID or key material twice; every key retrievable exactly once by its slave', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ number: fc.integer({ min: 1, max: 16 }), edge: fc.integer({ min: 0, max: 1 }) }), { minLength: 4, maxLength: 24 }), async (requests) => {
        const results = await Promise.all(requests.map((r) => call('SAE_A', 'POST', '/api/v1/keys/SAE_B/enc_keys', { number: r.number }, r.edge)));
        const delivered = results.map((r) => {
          assert.equal(r.status, 200, JSON.stringify(r.json));
          return keysOf(r.json);
        });
        for (const keys of delivered) {
          for (const k of keys) {
            assert.ok(!seen.has(k.key_ID) && !seen.has(k.key), 'a key handed out twice');
            seen.add(k.key_ID);
            seen.add(k.key);
          }
        }
        const retrievals = await Promise.all(
          delivered.flatMap((keys) => [0, 1].map((edge) => call('SAE_B', 'POST', '/api/v1/keys/SAE_A/dec_keys', { key_IDs: keys.map((k) => ({ key_ID: k.key_ID })) }, edge))),
        );
        for (let i = 0; i < delivered.length; i++) {
          const pair = [retrievals[2 * i], retrievals[2 * i + 1]];
          const ok = pair.filter((r) => r?.status === 200);
          assert.equal(ok.length, 1, 'exactly one of two concurrent retrievals succeeds');
          assert.deepEqual(keysOf(ok[0]?.json), delivered[i]);
        }
      }),
      { numRuns: 6 },
    );
  });
});
