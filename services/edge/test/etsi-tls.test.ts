import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { serve, type BusRequest, type Served } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { kmeSubjects } from '@vigil/kme-contract';
import { createLogger } from '@vigil/log';
import { certificateSha256, createCertificateAuthority, issueSaeCertificate, revokeCertificate, type IssuedCertificate } from '@vigil/pki';
import { StartupError } from '@vigil/runtime';
import { startTestBus, type TestBus } from '@vigil/testkit';
import { startEtsiListener } from '../src/index.ts';
import { certificateRejections, etsiClient, refusedOrAnswered, sampleStatus, startTestEtsi, type EtsiUnderTest, type Rejection } from './etsi-harness.ts';

const day = 24 * 60 * 60 * 1000;

let testBus: TestBus;
let etsi: EtsiUnderTest;
const calls: BusRequest<unknown>[] = [];
let responder: Served;


before(async () => {
  testBus = await startTestBus();
  etsi = await startTestEtsi({ testBus });
  responder = serve(etsi.workerBus, {
    subject: kmeSubjects.status,
    parse: (data) => data,
    handle: async (request) => {
      calls.push(request);
      return { ...sampleStatus, master_SAE_ID: request.caller?.actor.id ?? '' };
    },
  });
});
after(async () => {
  await responder.stop();
  await etsi.close();
  await testBus.close();
});

function listenerLabel(target: EtsiUnderTest): string {
  return `etsi ${new URL(target.url).hostname}:${new URL(target.url).port}`;
}

/** The rejections this listener reported since `seen` of them were there. */
async function newRejections(target: EtsiUnderTest, seen: number, count: number): Promise<Rejection[]> {
  const all = (await certificateRejections(target, seen + count)).filter((r) => r.data.listener === listenerLabel(target));
  return all.slice(seen);
}

async function reportedSoFar(target: EtsiUnderTest): Promise<number> {
  return (await certificateRejections(target, 0, 0)).filter((r) => r.data.listener === listenerLabel(target)).length;
}

/** A connection refused at TLS: the request fails without an HTTP answer, and one CertificateRejected is on AUDIT. */
async function assertRefused(certificate: IssuedCertificate | undefined, reason: string): Promise<Rejection> {
  const seen = await reportedSoFar(etsi);
  const outcome = await refusedOrAnswered(etsi, certificate);
  assert.ok(outcome instanceof Error, `refused at TLS, not answered: ${JSON.stringify(outcome)}`);
  const [rejection, ...more] = await newRejections(etsi, seen, 1);
  assert.ok(rejection, 'a CertificateRejected event on AUDIT');
  assert.deepEqual(more, []);
  assert.equal(rejection.data.reason, reason);
  assert.equal(rejection.data.category, 'certificate_validation');
  assert.deepEqual(rejection.actor, { kind: 'service', id: 'edge' });
  if (certificate) assert.equal(rejection.data.certificate_sha256, certificateSha256(certificate.certificatePem));
  else assert.equal(rejection.data.certificate_sha256, undefined);
  return rejection;
}

describe('mutual TLS', () => {
  test('a valid SAE certificate is served, many requests on one keep-alive connection', async () => {
    const client = etsiClient(etsi, await etsi.sae({ saeId: 'SAE_A' }));
    try {
      for (let i = 0; i < 3; i++) {
        const res = await client.call('GET', '/api/v1/keys/SAE_B/status');
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body['master_SAE_ID'], 'SAE_A');
      }
    } finally {
      await client.close();
    }
  });

  test('no client certificate → refused and reported', async () => {
    await assertRefused(undefined, 'PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  test('a certificate from another CA → refused and reported with its fingerprint and subject', async () => {
    const stranger = await issueSaeCertificate(await createCertificateAuthority({ commonName: 'Elsewhere CA' }), { saeId: 'SAE_A' });
    const rejection = await assertRefused(stranger, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.equal(rejection.data.subject, 'CN=SAE_A');
  });

  test('an expired certificate → refused and reported', async () => {
    await assertRefused(await etsi.sae({ saeId: 'SAE_OLD', notBefore: new Date(Date.now() - 10 * day), notAfter: new Date(Date.now() - day) }), 'CERT_HAS_EXPIRED');
  });

  test('a certificate not yet valid → refused and reported', async () => {
    await assertRefused(await etsi.sae({ saeId: 'SAE_EARLY', notBefore: new Date(Date.now() + day), days: 30 }), 'CERT_NOT_YET_VALID');
  });

  test('a revoked certificate → refused and reported; revoking takes effect on a running listener', async () => {
    const sae = await etsi.sae({ saeId: 'SAE_R' });
    const client = etsiClient(etsi, sae);
    assert.equal((await client.call('GET', '/api/v1/keys/SAE_B/status')).status, 200);
    await client.close();
    await revokeCertificate(etsi.pki.dir, sae.certificatePem);
    // The listener polls its files every 50 ms in this test (2 s by default).
    const deadline = Date.now() + 5000;
    while (!((await refusedOrAnswered(etsi, sae)) instanceof Error)) {
      assert.ok(Date.now() < deadline, 'the new CRL was not picked up');
      await new Promise((r) => setTimeout(r, 50));
    }
    await assertRefused(sae, 'CERT_REVOKED');
  });

  test('a TLS 1.1 client is refused during the handshake (counted, not a certificate report)', async () => {
    const seen = await reportedSoFar(etsi);
    const outcome = await refusedOrAnswered(etsi, await etsi.sae({ saeId: 'SAE_A' }), { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    assert.ok(outcome instanceof Error);
    assert.ok((etsi.listener.counters.handshakeFailures.get('ERR_SSL_UNSUPPORTED_PROTOCOL') ?? 0) >= 1, JSON.stringify([...etsi.listener.counters.handshakeFailures]));
    assert.equal(await reportedSoFar(etsi), seen);
  });

  test('a client offering only weak (non-AEAD, non-ECDHE) ciphers is refused', async () => {
    const outcome = await refusedOrAnswered(etsi, await etsi.sae({ saeId: 'SAE_A' }), { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA256:AES256-SHA' });
    assert.ok(outcome instanceof Error);
    assert.ok((etsi.listener.counters.handshakeFailures.get('ERR_SSL_NO_SHARED_CIPHER') ?? 0) >= 1, JSON.stringify([...etsi.listener.counters.handshakeFailures]));
  });
});

describe('audit rate cap', () => {
  test('a flood of bad handshakes writes at most the burst to AUDIT, and counts the rest', async () => {
    const capped = await startTestEtsi({ testBus, audit: { reportsPerSecond: 0.001, burst: 2 } });
    try {
      for (let i = 0; i < 6; i++) assert.ok((await refusedOrAnswered(capped)) instanceof Error);
      await capped.listener.reporter.flush();
      assert.equal(await reportedSoFar(capped), 2);
      assert.equal(capped.listener.counters.unreportedRefusals, 4);
      assert.equal(capped.listener.counters.certificateRefusals.get('PEER_DID_NOT_RETURN_A_CERTIFICATE'), 6);
      assert.deepEqual(capped.listener.details()['unreported_certificate_refusals'], 4);
    } finally {
      await capped.close();
    }
  });
});

describe('SAE_ID from a URI SAN', () => {
  let byUri: EtsiUnderTest;
  before(async () => {
    byUri = await startTestEtsi({ testBus, env: { VIGIL_SAE_ID_FROM: 'uri-san' } });
  });
  after(async () => {
    await byUri.close();
  });

  test('the URI SAN, not the CN, is the caller', async () => {
    const sae = await byUri.sae({ saeId: 'ignored-cn', uriSan: 'urn:sae:SAE_U' });
    const client = etsiClient(byUri, sae);
    try {
      const res = await client.call('GET', '/api/v1/keys/SAE_B/status');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(calls.at(-1)?.caller, { actor: { kind: 'sae', id: 'urn:sae:SAE_U' }, certificateSha256: certificateSha256(sae.certificatePem) });
    } finally {
      await client.close();
    }
  });

  test('a certificate without a URI SAN → 401 in the ETSI format, reported once per connection', async () => {
    const seen = await reportedSoFar(byUri);
    const sae = await byUri.sae({ saeId: 'SAE_CN_ONLY' });
    const client = etsiClient(byUri, sae);
    try {
      for (let i = 0; i < 2; i++) {
        const res = await client.call('GET', '/api/v1/keys/SAE_B/status');
        assert.equal(res.status, 401, res.text);
        assert.match(String(res.body['message']), /exactly one SAE_ID in its URI subject alternative name/);
      }
    } finally {
      await client.close();
    }
    const rejections = await newRejections(byUri, seen, 1);
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]?.data.certificate_sha256, certificateSha256(sae.certificatePem));
    assert.match(rejections[0]?.data.reason ?? '', /URI subject alternative name/);
  });
});

describe('start-up', () => {
  test('missing TLS files or KEK file → one StartupError line naming the variables', async () => {
    const logger = createLogger({ service: 'edge', level: 'silent' });
    const base = { VIGIL_NAMESPACE: testBus.bus.names.namespace, VIGIL_ETSI_PORT: '0' };
    await assert.rejects(startEtsiListener({ config: loadConfig(base), bus: testBus.bus, logger }), (err: unknown) => {
      assert.ok(err instanceof StartupError);
      assert.match(err.message, /needs VIGIL_TLS_CERT_FILE, VIGIL_TLS_KEY_FILE, VIGIL_TLS_CA_FILE/);
      return true;
    });
    const tls = { VIGIL_TLS_CERT_FILE: etsi.pki.serverCertificate, VIGIL_TLS_KEY_FILE: etsi.pki.serverKey, VIGIL_TLS_CA_FILE: etsi.pki.caCertificate };
    await assert.rejects(
      startEtsiListener({ config: loadConfig({ ...base, ...tls, VIGIL_DATA_DIR: '/nonexistent' }), bus: testBus.bus, logger }),
      /needs the KME key-encryption keys: cannot load \/nonexistent\/kme-kek.json \(ENOENT\); set VIGIL_KME_KEK_FILE/,
    );
    await assert.rejects(
      startEtsiListener({ config: loadConfig({ ...base, ...tls, VIGIL_TLS_CA_FILE: '/nonexistent/ca.crt' }), bus: testBus.bus, logger }),
      /VIGIL_TLS_CA_FILE: cannot read \/nonexistent\/ca.crt \(ENOENT\)/,
    );
  });

  test('the edge started alone without TLS files exits 1 with one line', { timeout: 60_000 }, async () => {
    const main = join(import.meta.dirname, '..', 'src', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NATS_URL: testBus.nats.url, VIGIL_NAMESPACE: testBus.bus.names.namespace, VIGIL_HTTP_PORT: '0', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let errors = '';
    child.stderr.on('data', (c: Buffer) => (errors += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(errors, /^vigil: the ETSI GS QKD 014 listener needs VIGIL_TLS_CERT_FILE, VIGIL_TLS_KEY_FILE, VIGIL_TLS_CA_FILE/);
    assert.equal(errors.trim().split('\n').length, 1, errors);
  });
});
