// ETSI GS QKD 014 key delivery over mutual TLS with keep-alive: enc_keys requests/s and keys/s with p50/p99,
// single-key and max-key requests, against a bare Fastify mTLS endpoint with the same TLS settings in the same
// run; and the time from a block published by the QKD link simulator to keys available.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { edgeService, strongCiphers } from '@vigil/edge';
import { kmeService } from '@vigil/kme';
import { createKekFile, loadKekRing } from '@vigil/kme-contract';
import { initPki, issueSaeCertificate, loadCa } from '@vigil/pki';
import { LinkSimulator } from '@vigil/qkd-sim';
import { startProcess } from '@vigil/runtime';
import { createTestDatabase, postgresServerUrl, startTestNats, testLogger, testNamespace } from '@vigil/testkit';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { httpLoad, type HttpRequestSpec } from './http-load.ts';

const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const concurrency = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const maxKeys = 1024;

function emit(line: Record<string, unknown>) {
  console.log(JSON.stringify(line));
}

const dir = await mkdtemp(join(tmpdir(), 'vigil-etsi-bench-'));
const nats = await startTestNats();
try {
  const pki = await initPki(join(dir, 'pki'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const ca = readFileSync(pki.caCertificate, 'utf8');
  const kekFile = join(dir, 'kek.json');
  createKekFile(kekFile);
  const limits = { key_size: 256, min_key_size: 64, max_key_size: 8192, max_key_per_request: maxKeys, max_key_count: 10_000_000, max_SAE_ID_count: 0 };
  await writeFile(join(dir, 'topology.json'), JSON.stringify({ kmes: [{ id: 'KME_A' }, { id: 'KME_B' }], saes: [{ id: 'SAE_A', kme: 'KME_A' }, { id: 'SAE_B', kme: 'KME_B' }], links: [{ id: 'AB', kmes: ['KME_A', 'KME_B'], rate_bps: 1, limits }] }));
  const namespace = testNamespace();
  // The KME's read models as deployed: PostgreSQL when one answers (else PGlite, in this process).
  const db = (await postgresServerUrl()) ? await createTestDatabase('postgres') : undefined;
  const env = {
    ...(db?.url ? { DATABASE_URL: db.url } : {}),
    NATS_URL: nats.url,
    VIGIL_NAMESPACE: namespace,
    VIGIL_DATA_DIR: join(dir, 'data'),
    VIGIL_KME_KEK_FILE: kekFile,
    VIGIL_KME_TOPOLOGY_FILE: join(dir, 'topology.json'),
    VIGIL_HTTP_PORT: '0',
    VIGIL_ETSI_PORT: '0',
    VIGIL_TLS_CERT_FILE: pki.serverCertificate,
    VIGIL_TLS_KEY_FILE: pki.serverKey,
    VIGIL_TLS_CA_FILE: pki.caCertificate,
    VIGIL_TLS_CRL_FILE: pki.crl,
    LOG_LEVEL: 'silent',
  };
  const vigil = await startProcess('bench', [kmeService, edgeService], { embeddedNats: false, env });
  const etsi = vigil.services.flatMap((s) => s.started.endpoints ?? []).flatMap((e) => e.match(/^https:\/\/\S+/)?.[0] ?? [])[0];
  if (!etsi) throw new Error('no ETSI endpoint');
  const sim = new LinkSimulator({ bus: vigil.bus, ring: loadKekRing(kekFile), logger: testLogger(), linkId: 'AB', rateBps: 1 });
  /** Publishes blocks of 64 KiB (the simulator's largest), several at a time. */
  const supply = async (blocks: number) => {
    let published = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (published++ < blocks) await sim.publishBlock(64 * 1024);
      }),
    );
  };
  await supply(400);

  const cert = await issueSaeCertificate(loadCa(pki.dir), { saeId: 'SAE_A' });
  const agent = new Agent({ connect: { ca, cert: cert.certificatePem, key: cert.privateKeyPem, servername: 'localhost' }, connections: concurrency, keepAliveTimeout: 30_000 });
  const load = (url: string, spec?: HttpRequestSpec) => httpLoad({ seconds, concurrency, agent }, url, spec);

  // Baseline: bare Fastify, the same certificate, CA, client-certificate demand and ciphers, a JSON body of the same shape.
  const bare = Fastify({
    https: { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCertificate), ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', ciphers: strongCiphers },
  });
  const oneKey = JSON.stringify({ keys: [{ key_ID: '0190b6e8-8f4c-7a9e-9c4e-3f1f2a7b0001', key: Buffer.alloc(32, 1).toString('base64') }] });
  bare.get('/api/v1/keys/:slave/enc_keys', async (_req, reply) => reply.type('application/json').send(oneKey));
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  const baseline = await load(`${bareUrl}/api/v1/keys/SAE_B/enc_keys`);
  await bare.close();

  const single = await load(`${etsi}/api/v1/keys/SAE_B/enc_keys`);
  emit({ bench: 'etsi.enc_keys.single', unit: 'requests/s', value: Math.round(single.rps), keys_per_s: Math.round(single.rps), p50_ms: single.p50, p99_ms: single.p99, errors: single.errors, baseline: 'fastify.mtls.same_tls', baseline_value: Math.round(baseline.rps), baseline_p50_ms: baseline.p50, ratio: +(single.rps / baseline.rps).toFixed(3), concurrency });
  // Material for some 500k keys/s: the max-key phase measures the API, not an empty pool (a 503 is counted as an error).
  await supply(Math.ceil(seconds * 250));
  const many = await load(`${etsi}/api/v1/keys/SAE_B/enc_keys`, { method: 'POST', json: JSON.stringify({ number: maxKeys }) });
  emit({ bench: 'etsi.enc_keys.max', unit: 'keys/s', value: Math.round(many.rps * maxKeys), requests_per_s: +many.rps.toFixed(1), keys_per_request: maxKeys, key_bits: 256, p50_ms: many.p50, p99_ms: many.p99, errors: many.errors, goal: 55_000, ratio_to_goal: +((many.rps * maxKeys) / 55_000).toFixed(3), concurrency });

  // Supply latency: from a block published to keys of it delivered. Drain the pool first.
  const drain = async () => {
    for (;;) {
      const res = await request(`${etsi}/api/v1/keys/SAE_B/enc_keys`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ number: maxKeys }), headers: { 'content-type': 'application/json' } });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) break;
    }
    for (;;) {
      const res = await request(`${etsi}/api/v1/keys/SAE_B/enc_keys`, { dispatcher: agent });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) return;
    }
  };
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    await drain();
    const t = performance.now();
    await sim.publishBlock(32);
    for (;;) {
      const res = await request(`${etsi}/api/v1/keys/SAE_B/enc_keys`, { dispatcher: agent });
      await res.body.arrayBuffer();
      if (res.statusCode === 200) break;
    }
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  emit({ bench: 'kme.supply_to_key', unit: 'ms', p50: +(samples[10] ?? 0).toFixed(2), max: +(samples[samples.length - 1] ?? 0).toFixed(2), samples: samples.length });
  await agent.close();
  await vigil.stop();
  await db?.close();
} finally {
  await nats.stop();
  await rm(dir, { recursive: true, force: true });
}
