// The broker over TLS (a device logs in with its registered client certificate, or its secret) and over WebSocket.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isEventOf } from '@vigil/bus';
import { createCertificateAuthority, issueSaeCertificate, issueServerCertificate, type IssuedCertificate } from '@vigil/pki';
import { DeviceAuthenticationFailed, TelemetryReported } from '@vigil/schemas';
import { eventually, startTestBus, type TestBus } from '@vigil/testkit';
import type { MqttClient } from 'mqtt';
import type { DeviceBroker } from '../src/broker/device-broker.ts';
import { acme, channelEvents, connectClient, connectDevice, deviceTopic, eventsOn, registerDevice, startBroker, startRegistry, type Registry } from './broker-fixture.ts';

let t: TestBus;
let registry: Registry;
let broker: DeviceBroker;
let serverCa: IssuedCertificate;
let deviceCa: IssuedCertificate;
const clients: MqttClient[] = [];

before(async () => {
  t = await startTestBus();
  registry = await startRegistry(t.bus);
  serverCa = await createCertificateAuthority({ commonName: 'MQTT server CA' });
  deviceCa = await createCertificateAuthority({ commonName: 'Device CA' });
  const server = await issueServerCertificate(serverCa, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  broker = await startBroker(t.bus, registry, {
    listen: {
      host: '127.0.0.1',
      tls: { port: 0, certificatePem: server.certificatePem, privateKeyPem: server.privateKeyPem, deviceCaPem: deviceCa.certificatePem },
      wsPort: 0,
    },
  });
});
after(async () => {
  for (const c of clients) c.end(true);
  await broker.stop();
  await registry.stop();
  await t.close();
});

/** A device with a client certificate from the device CA, registered as its credential. */
async function certifiedDevice() {
  const device = await registerDevice(registry);
  const certificate = await issueSaeCertificate(deviceCa, { saeId: device.deviceId });
  const { seq } = await registry.worker.issueCredential(acme, { device_id: device.deviceId, credential: { kind: 'certificate', certificate_pem: certificate.certificatePem } });
  await registry.directory.reach(seq);
  return { ...device, certificate };
}

const tlsOptions = (certificate?: IssuedCertificate) => ({
  ca: serverCa.certificatePem,
  rejectUnauthorized: true,
  ...(certificate ? { cert: certificate.certificatePem, key: certificate.privateKeyPem } : {}),
});

const refusalCode = (err: unknown) => (err instanceof Error && 'code' in err ? err.code : String(err));

test('over TLS a registered client certificate logs the device in without a password', async () => {
  const d = await certifiedDevice();
  const client = await connectClient(broker.url('tls'), { clientId: d.deviceId, ...tlsOptions(d.certificate) });
  clients.push(client);
  await client.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ values: { lux: 300 } }), { qos: 1 });
  const [reading] = (await channelEvents(t.bus, d, 'reading')).map((e) => e.event);
  assert.ok(reading && isEventOf([TelemetryReported], reading) && reading.data.values['lux'] === 300);
});

test("over TLS another device's certificate, and a certificate from another CA, are refused (not authorized) and audited", async () => {
  const a = await certifiedDevice();
  const b = await certifiedDevice();
  await assert.rejects(connectClient(broker.url('tls'), { clientId: a.deviceId, ...tlsOptions(b.certificate) }), (err) => refusalCode(err) === 5);
  const stranger = await issueSaeCertificate(await createCertificateAuthority({ commonName: 'Somebody else' }), { saeId: a.deviceId });
  // Even with the right password: a certificate that does not verify is not ignored.
  await assert.rejects(
    connectClient(broker.url('tls'), { clientId: a.deviceId, username: a.deviceId, password: a.secret, ...tlsOptions(stranger) }),
    (err) => refusalCode(err) === 5,
  );
  const failures = await eventually(
    'audited',
    async () => (await eventsOn(t.bus, 'audit.acme.device_access')).map((e) => e.event).filter((e) => isEventOf([DeviceAuthenticationFailed], e) && e.data.claimed_device === a.deviceId),
    (e) => e.length === 2,
  );
  assert.deepEqual(
    failures.map((e) => (isEventOf([DeviceAuthenticationFailed], e) ? [e.data.reason, e.data.transport] : [])),
    [
      ['certificate_mismatch', 'tls'],
      ['certificate_mismatch', 'tls'],
    ],
  );
});

test('over TLS without a client certificate the secret is the password', async () => {
  const d = await registerDevice(registry);
  const client = await connectDevice(broker.url('tls'), d, tlsOptions());
  clients.push(client);
  await client.publishAsync(deviceTopic(d, 'heartbeat'), JSON.stringify({ uptime: 5 }), { qos: 1 });
  assert.equal((await channelEvents(t.bus, d, 'heartbeat')).length, 1);
});

test('MQTT over WebSocket works the same, and its refusals say so', async () => {
  const d = await registerDevice(registry);
  assert.match(broker.url('ws'), /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
  const client = await connectDevice(broker.url('ws'), d);
  clients.push(client);
  await client.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ values: { v: 1 } }), { qos: 1 });
  assert.equal((await channelEvents(t.bus, d, 'reading')).length, 1);
  await assert.rejects(connectDevice(broker.url('ws'), { ...d, secret: 'vds_wrong' }), (err) => refusalCode(err) === 4);
  const failures = await eventually(
    'audited',
    async () => (await eventsOn(t.bus, 'audit.acme.device_access')).map((e) => e.event).filter((e) => isEventOf([DeviceAuthenticationFailed], e) && e.data.claimed_device === d.deviceId),
    (e) => e.length === 1,
  );
  assert.ok(failures[0] && isEventOf([DeviceAuthenticationFailed], failures[0]) && failures[0].data.transport === 'ws');
});
