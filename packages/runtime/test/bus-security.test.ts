// A NATS that requires mutual TLS and a password: Vigil connects with the NATS_* settings, and only with them.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { append, connectBus, createEvent, drainBus, startLocalNatsServer, type LocalNatsServer } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { createCertificateAuthority, issueSaeCertificate, issueServerCertificate } from '@vigil/pki';
import { MessageRejected } from '@vigil/schemas';
import { testLogger, testNamespace } from '@vigil/testkit';
import { busSecurityOf } from '../src/index.ts';

let dir: string;
let server: LocalNatsServer;
const file = (name: string) => join(dir, name);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-nats-tls-'));
  const ca = await createCertificateAuthority({ commonName: 'NATS CA' });
  const serverCert = await issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = await issueSaeCertificate(ca, { saeId: 'vigil-worker' });
  await writeFile(file('ca.crt'), ca.certificatePem);
  await writeFile(file('server.crt'), serverCert.certificatePem);
  await writeFile(file('server.key'), serverCert.privateKeyPem);
  await writeFile(file('client.crt'), client.certificatePem);
  await writeFile(file('client.key'), client.privateKeyPem);
  await writeFile(file('password'), 'a bus password\n');
  server = await startLocalNatsServer({
    storeDir: file('store'),
    tls: { certFile: file('server.crt'), keyFile: file('server.key'), caFile: file('ca.crt'), verifyClients: true },
    credentials: { user: 'vigil', password: 'a bus password' },
  });
});
after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

const connectWith = (env: Record<string, string>) =>
  connectBus({ servers: [server.url], name: 'tls-test', logger: testLogger('tls'), namespace: testNamespace(), security: busSecurityOf(loadConfig(env)) });

test('with the CA, a client certificate and the password, a process connects and appends', async () => {
  const bus = await connectWith({
    NATS_TLS_CA_FILE: file('ca.crt'),
    NATS_TLS_CERT_FILE: file('client.crt'),
    NATS_TLS_KEY_FILE: file('client.key'),
    NATS_USER: 'vigil',
    NATS_PASSWORD_FILE: file('password'),
  });
  try {
    const event = createEvent(
      MessageRejected,
      { category: 'system', severity: 'notice', consumer: 'c', stream: 'S', stream_seq: 1, subject: 's', reason: 'malformed', problems: [] },
      { actor: { kind: 'system', id: 'test' } },
    );
    assert.ok((await append(bus, 'audit._platform.system', event)).seq > 0);
    assert.equal(bus.nc.info?.tls_required, true);
  } finally {
    await drainBus(bus);
  }
});

test('without TLS, without a client certificate, or with a wrong password, the server refuses', async () => {
  await assert.rejects(connectWith({ NATS_USER: 'vigil', NATS_PASSWORD_FILE: file('password') }));
  await assert.rejects(connectWith({ NATS_TLS_CA_FILE: file('ca.crt'), NATS_USER: 'vigil', NATS_PASSWORD_FILE: file('password') }));
  await writeFile(file('wrong'), 'not it');
  await assert.rejects(
    connectWith({ NATS_TLS_CA_FILE: file('ca.crt'), NATS_TLS_CERT_FILE: file('client.crt'), NATS_TLS_KEY_FILE: file('client.key'), NATS_USER: 'vigil', NATS_PASSWORD_FILE: file('wrong') }),
  );
});

test('half a client key pair, or a password without a user, is a configuration error', () => {
  assert.throws(() => busSecurityOf(loadConfig({ NATS_TLS_CERT_FILE: file('client.crt') })), /go together/);
  assert.throws(() => busSecurityOf(loadConfig({ NATS_PASSWORD_FILE: file('password') })), /needs NATS_USER/);
});
