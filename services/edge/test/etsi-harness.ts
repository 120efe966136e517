import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { loadAggregate, type Bus } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import type { KekRing } from '@vigil/crypto';
import { createKekFile, loadKekRing, type Status } from '@vigil/kme-contract';
import { createLogger } from '@vigil/log';
import { initPki, issueSaeCertificate, loadCa, type IssuedCertificate, type PkiPaths, type SaeOptions } from '@vigil/pki';
import { CertificateRejected, type EventOf } from '@vigil/schemas';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { Agent, request } from 'undici';
import { startEtsiListener, type RunningEtsiListener } from '../src/index.ts';
import { isRecord, LogCapture } from './harness.ts';

/** A Status (Table 9) as a test KME worker answers it. */
export const sampleStatus: Status = {
  source_KME_ID: 'KME_1',
  target_KME_ID: 'KME_2',
  master_SAE_ID: 'SAE_A',
  slave_SAE_ID: 'SAE_B',
  key_size: 256,
  stored_key_count: 25000,
  max_key_count: 100000,
  max_key_per_request: 128,
  max_key_size: 1024,
  min_key_size: 64,
  max_SAE_ID_count: 0,
};

export interface EtsiUnderTest {
  readonly listener: RunningEtsiListener;
  readonly url: string;
  readonly pki: PkiPaths;
  readonly ca: IssuedCertificate;
  /** The KEK ring the listener opens keys with, for test responders that seal them. */
  readonly ring: KekRing;
  readonly testBus: TestBus;
  /** A connection for the workers a test plays. */
  readonly workerBus: Bus;
  readonly logs: LogCapture;
  /** An SAE certificate from the listener's CA. */
  sae(options: SaeOptions): Promise<IssuedCertificate>;
  close(): Promise<void>;
}

export interface EtsiSetup {
  readonly env?: Record<string, string>;
  readonly testBus?: TestBus;
  readonly audit?: { readonly reportsPerSecond?: number; readonly burst?: number };
}

/** An ETSI listener on a free port with a fresh PKI and KEK file in a temporary directory, as `pnpm start` makes them. */
export async function startTestEtsi(setup: EtsiSetup = {}): Promise<EtsiUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-etsi-'));
  const pki = await initPki(join(dir, 'pki'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const kekFile = join(dir, 'kek.json');
  createKekFile(kekFile);
  const testBus = setup.testBus ?? (await startTestBus());
  const edgeBus = await testBus.connect('edge');
  const workerBus = await testBus.connect('worker');
  const config = loadConfig({
    VIGIL_NAMESPACE: testBus.bus.names.namespace,
    VIGIL_ETSI_HOST: '127.0.0.1',
    VIGIL_ETSI_PORT: '0',
    VIGIL_TLS_CERT_FILE: pki.serverCertificate,
    VIGIL_TLS_KEY_FILE: pki.serverKey,
    VIGIL_TLS_CA_FILE: pki.caCertificate,
    VIGIL_TLS_CRL_FILE: pki.crl,
    VIGIL_KME_KEK_FILE: kekFile,
    VIGIL_REQUEST_TIMEOUT_MS: '1000',
    ...setup.env,
  });
  const logs = new LogCapture();
  const logger = process.env['TEST_LOG_LEVEL'] ? testLogger('edge') : createLogger({ service: 'edge', level: 'debug', destination: logs.stream });
  const listener = await startEtsiListener({ config, bus: edgeBus, logger }, { reloadIntervalMs: 50, ...(setup.audit ? { audit: setup.audit } : {}) });
  const ca = loadCa(pki.dir);
  return {
    listener,
    url: listener.url,
    pki,
    ca,
    ring: loadKekRing(kekFile),
    testBus,
    workerBus,
    logs,
    sae: (options) => issueSaeCertificate(ca, options),
    async close() {
      await listener.close();
      if (!setup.testBus) await testBus.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface EtsiAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

export interface EtsiClient {
  call(method: 'GET' | 'POST', path: string, body?: string | Record<string, unknown>, headers?: Record<string, string>): Promise<EtsiAnswer>;
  close(): Promise<void>;
}

/** A real HTTPS client (undici, keep-alive, one connection) presenting `certificate`, or none. */
export function etsiClient(etsi: EtsiUnderTest, certificate?: IssuedCertificate, tls: ConnectionOptions = {}): EtsiClient {
  const agent = new Agent({
    connections: 1,
    connect: { ca: etsi.ca.certificatePem, ...(certificate ? { cert: certificate.certificatePem, key: certificate.privateKeyPem } : {}), ...tls },
  });
  return {
    async call(method, path, body, headers = {}) {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const res = await request(`${etsi.url}${path}`, {
        method,
        dispatcher: agent,
        headers: { ...(typeof body === 'object' ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(payload === undefined ? {} : { body: payload }),
      });
      const text = await res.body.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, contentType: String(res.headers['content-type']), body: isRecord(parsed) ? parsed : {}, text };
    },
    close: () => agent.close(),
  };
}

/** One request on a fresh connection; resolves to the error when the connection is refused. */
export async function refusedOrAnswered(etsi: EtsiUnderTest, certificate?: IssuedCertificate, tls: ConnectionOptions = {}): Promise<Error | EtsiAnswer> {
  const client = etsiClient(etsi, certificate, tls);
  try {
    return await client.call('GET', '/api/v1/keys/SAE_B/status');
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    await client.close().catch(() => {});
  }
}

export type Rejection = EventOf<typeof CertificateRejected>;

/** The CertificateRejected events on AUDIT, waiting until there are at least `atLeast` (reports are asynchronous). */
export async function certificateRejections(etsi: EtsiUnderTest, atLeast: number, timeoutMs = 5000): Promise<Rejection[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await etsi.listener.reporter.flush();
    const { events } = await loadAggregate(etsi.testBus.bus, 'audit._platform.certificate_validation');
    const rejections = events.map((e) => e.event).filter((e): e is Rejection => CertificateRejected.is(e));
    if (rejections.length >= atLeast || Date.now() > deadline) return rejections;
    await new Promise((r) => setTimeout(r, 50));
  }
}
