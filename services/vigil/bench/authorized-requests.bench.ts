// Requests/s through the edge on one route authorised by a JWT access token (EdDSA verified locally, the session's
// revocation checked, the roles turned into permissions, the user's rate limit taken), and by an API key, against the
// same handler on a public route in the same edge and run: what authentication and authorization cost per request.
// The handler answers at the edge (no bus round trip), so nothing else is measured.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@vigil/config';
import { buildEdge } from '@vigil/edge';
import { createSigningKeysFile, IdentityWorker, identityPolicy, loadSigningKeys } from '@vigil/identity';
import { createKekFile, loadKekRing } from '@vigil/kme-contract';
import { emitBenchLine, startTestBus, testLogger } from '@vigil/testkit';
import Type from 'typebox';
import { Agent, request } from 'undici';
import { httpLoad } from './http-load.ts';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const concurrency = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const password = 'a benchmark pass phrase';

/** A string field of a JSON answer, or the run stops saying which. */
async function field(res: { body: { json(): Promise<unknown> } }, name: string): Promise<string> {
  const body = await res.body.json();
  const value = typeof body === 'object' && body !== null ? Object.entries(body).find(([k]) => k === name)?.[1] : undefined;
  if (typeof value !== 'string') throw new Error(`expected ${name} in ${JSON.stringify(body)}`);
  return value;
}

const t = await startTestBus();
const dir = mkdtempSync(join(tmpdir(), 'authorized-bench-'));
createKekFile(join(dir, 'kek.json'));
createSigningKeysFile(join(dir, 'keys.json'));
// One user makes every request: their per-user limit is lifted for the run (the bucket is still taken each time).
const config = loadConfig({ VIGIL_NAMESPACE: t.bus.names.namespace, VIGIL_HTTP_PORT: '0', VIGIL_USER_RATE_LIMIT: '1000000', LOG_LEVEL: 'warn' });
const logger = testLogger('bench');
const worker = new IdentityWorker({ bus: await t.connect('identity'), ring: loadKekRing(join(dir, 'kek.json')), keys: loadSigningKeys(join(dir, 'keys.json')), policy: identityPolicy(config), logger });
const agent = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
const load = (url: string, headers: Record<string, string>) => httpLoad({ seconds, concurrency, agent }, url, { headers });
await worker.start();
const app = await buildEdge({ config, bus: await t.connect('edge'), logger, version: 'bench' });
try {
  const schema = { hide: true, response: { 200: Type.Object({ ok: Type.Boolean() }) } };
  const answer = async () => ({ ok: true });
  app.get('/bench/public', { config: { public: true }, schema }, answer);
  app.get('/bench/authorized', { config: { permission: 'profile:self' }, schema }, answer);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  await worker.createTenant({ tenant_id: 'bench', name: 'Bench', owner: { username: 'owner', email: 'owner@bench.example', password } });
  const login = await request(`${base}/auth/login`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'bench', username: 'owner', password }) });
  const token = await field(login, 'access_token');
  const keyRes = await request(`${base}/api-keys`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'bench', permissions: ['profile:self'], expires_at: new Date(Date.now() + 86_400_000).toISOString(), rate_limit_per_minute: 100_000 }),
  });
  const key = await field(keyRes, 'key');

  // Warm both paths (JIT, connections), then measure back to back.
  await load(`${base}/bench/public`, {});
  await load(`${base}/bench/authorized`, { authorization: `Bearer ${token}` });
  const open = await load(`${base}/bench/public`, {});
  const jwt = await load(`${base}/bench/authorized`, { authorization: `Bearer ${token}` });
  const apiKey = await load(`${base}/bench/authorized`, { authorization: `Bearer ${key}` });
  const baseline = { baseline: 'same route, public (no authentication)', baseline_value: Math.round(open.rps), baseline_p50_ms: open.p50, concurrency, seconds };
  emitBenchLine({ bench: 'edge.authorized.jwt', unit: 'requests/s', value: Math.round(jwt.rps), ratio: +(jwt.rps / open.rps).toFixed(3), p50_ms: jwt.p50, p99_ms: jwt.p99, errors: jwt.errors, ...baseline });
  emitBenchLine({ bench: 'edge.authorized.api_key', unit: 'requests/s', value: Math.round(apiKey.rps), ratio: +(apiKey.rps / open.rps).toFixed(3), p50_ms: apiKey.p50, p99_ms: apiKey.p99, errors: apiKey.errors, ...baseline });
} finally {
  await agent.close();
  await app.close();
  await worker.stop();
  await t.close();
}
