// The broker's decisions without a bus or a socket: what a device may publish and subscribe to, how a CONNECT is
// judged, how the rate is kept, and how a resend is told from a new message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnyEnvelope } from '@vigil/schemas';
import { decideConnect, type CredentialCheck, type PresentedCredentials } from '../src/broker/device-authentication.ts';
import { Pacer, ReportBudget } from '../src/broker/pacer.ts';
import { deviceTopics, forwardable, publishableTopic, subscribableTopic } from '../src/broker/topic-policy.ts';
import { UnacknowledgedMessages, type HeldMessage } from '../src/broker/unacknowledged-messages.ts';
import type { DeviceAuthentication } from '../src/registry/device-directory.ts';

const device = '0190a0b0-0000-7000-8000-000000000001';
const other = '0190a0b0-0000-7000-8000-000000000002';
const topics = deviceTopics({ tenant: 'acme', deviceId: device });

test('a device publishes only on its own telemetry, heartbeat and talq topics', () => {
  assert.deepEqual(publishableTopic(topics, `v1/acme/${device}/telemetry`)?.channel, { kind: 'telemetry' });
  assert.deepEqual(publishableTopic(topics, `v1/acme/${device}/heartbeat`)?.channel, { kind: 'heartbeat' });
  assert.deepEqual(publishableTopic(topics, `v1/acme/${device}/talq/lamp/1/dimlevel`)?.channel, { kind: 'talq', path: 'lamp/1/dimlevel' });
  for (const refused of [
    `v1/acme/${device}/commands`,
    `v1/acme/${other}/telemetry`,
    `v1/other/${device}/telemetry`,
    `v1/acme/${device}/telemetryx`,
    `v1/acme/${device}/xtelemetry`,
    `v1/acme/${device}/talq/`,
    `v1/acme/${device}/talq/a//b`,
    `v1/acme/${device}/telemetry/more`,
    `$SYS/broker/clients`,
    'v1/acme',
  ]) {
    assert.equal(publishableTopic(topics, refused), undefined, refused);
  }
});

test('a device subscribes to its own commands only, and is forwarded nothing else', () => {
  assert.ok(subscribableTopic(topics, `v1/acme/${device}/commands`));
  for (const refused of [`v1/acme/${device}/#`, `v1/acme/+/commands`, '#', `v1/acme/${other}/commands`, `v1/acme/${device}/telemetry`, '$SYS/#']) {
    assert.ok(!subscribableTopic(topics, refused), refused);
  }
  assert.ok(forwardable(topics, `v1/acme/${device}/commands`));
  assert.ok(!forwardable(topics, `v1/acme/${device}/telemetry`));
  assert.ok(!forwardable(topics, `v1/acme/${other}/commands`));
});

/** A directory that knows one device with one secret and one certificate. */
const directory: CredentialCheck = {
  authenticateSecret(deviceId, secret): DeviceAuthentication {
    if (deviceId !== device) return { ok: false, reason: 'unknown_device' };
    if (secret !== 'vds_right') return { ok: false, reason: 'wrong_secret' };
    return { ok: true, credentialId: 'secret-1', device: { tenant: 'acme', deviceId: device, serial: 'SN-1', state: { status: 'active', deviceId: device, profile: { device_id: device, name: 'lamp', device_type: 'lamp', serial: 'SN-1', metadata: {} }, credentials: [] } } };
  },
  authenticateCertificate(deviceId, fingerprint): DeviceAuthentication {
    if (deviceId !== device) return { ok: false, reason: 'unknown_device' };
    if (fingerprint !== 'ab'.repeat(32)) return { ok: false, reason: 'certificate_mismatch' };
    return { ok: true, credentialId: 'cert-1', device: { tenant: 'acme', deviceId: device, serial: 'SN-1', state: { status: 'active', deviceId: device, profile: { device_id: device, name: 'lamp', device_type: 'lamp', serial: 'SN-1', metadata: {} }, credentials: [] } } };
  },
};
const connect = (over: Partial<PresentedCredentials>) =>
  decideConnect(directory, { transport: 'tcp', clientId: device, username: device, password: Buffer.from('vds_right'), certificate: undefined, ...over });

test('a CONNECT is the device with its secret or its certificate; every refusal has its reason and return code', () => {
  const ok = connect({});
  assert.ok(ok.ok && ok.credentialId === 'secret-1' && ok.method === 'secret');
  const byCertificate = connect({ transport: 'tls', username: undefined, password: undefined, certificate: { verified: true, sha256: 'ab'.repeat(32) } });
  assert.ok(byCertificate.ok && byCertificate.method === 'certificate');

  const refused = (over: Partial<PresentedCredentials>) => {
    const d = connect(over);
    assert.ok(!d.ok);
    return [d.reason, d.returnCode, d.claimed];
  };
  assert.deepEqual(refused({ password: Buffer.from('vds_wrong') }), ['wrong_secret', 4, device]);
  assert.deepEqual(refused({ password: undefined }), ['no_credentials', 4, device]);
  assert.deepEqual(refused({ clientId: other, username: other }), ['unknown_device', 4, other]);
  assert.deepEqual(refused({ clientId: 'mqttjs_1234' }), ['client_id_mismatch', 2, device], 'the client id must be the device id');
  assert.deepEqual(refused({ clientId: '' }), ['client_id_mismatch', 2, device]);
  // A certificate that does not verify, or is not this device's, is refused even with the right password.
  assert.deepEqual(refused({ transport: 'tls', certificate: { verified: false, sha256: 'ab'.repeat(32) } }), ['certificate_mismatch', 5, device]);
  assert.deepEqual(refused({ transport: 'tls', certificate: { verified: true, sha256: 'cd'.repeat(32) } }), ['certificate_mismatch', 5, device]);
  // What an attacker claims is cut before it is recorded.
  const long = 'x'.repeat(500);
  assert.deepEqual(refused({ clientId: long, username: long }), ['unknown_device', 4, 'x'.repeat(64)]);
});

test('the pacer lets a burst through, then spaces messages at the rate, and refuses what would wait too long', () => {
  const pacer = new Pacer(10, 10);
  const waits = Array.from({ length: 12 }, () => pacer.delay(1000, 250));
  assert.deepEqual(waits.slice(0, 10), Array(10).fill(0));
  assert.equal(waits[10], 100);
  assert.equal(waits[11], 200);
  assert.equal(pacer.delay(1000, 250), undefined, 'a wait of 300 ms is over the limit');
  assert.equal(pacer.delay(1000, 1000), 300, 'and a refusal spends nothing');
  // After a quiet second the burst is back.
  assert.equal(pacer.delay(3000, 0), 0);
  assert.equal(new Pacer(0, 0).delay(0), 0, 'rate 0: no limit');
});

test('the report budget caps each key and all keys together', () => {
  const budget = new ReportBudget({ perKeyPerSecond: 1, perKeyBurst: 2, totalPerSecond: 3, totalBurst: 3 });
  assert.deepEqual([budget.allow('a', 0), budget.allow('a', 0), budget.allow('a', 0)], [true, true, false]);
  assert.deepEqual([budget.allow('b', 0), budget.allow('c', 0)], [true, false], 'the total of 3 is spent');
  assert.ok(budget.allow('c', 1000));
});

const message = (topic: string, payload: string, at = 0): HeldMessage => {
  const event: AnyEnvelope = { id: `id-${payload}`, type: 'x.y', v: 1, at: '', actor: { kind: 'device', id: device }, correlation_id: 'c', data: {} };
  return { topic, payload: Buffer.from(payload), subject: 's', event, receivedAt: at, storing: undefined };
};

test('a packet repeats a held message only with the same device, packet id, topic and payload', () => {
  const memory = new UnacknowledgedMessages(60_000);
  const first = message('t/telemetry', '{"v":1}');
  memory.hold(device, 7, first);
  assert.equal(memory.repeated(device, 7, 't/telemetry', Buffer.from('{"v":1}')), first, 'the resend');
  assert.equal(memory.repeated(other, 7, 't/telemetry', Buffer.from('{"v":1}')), undefined, 'another device');
  assert.equal(memory.repeated(device, 8, 't/telemetry', Buffer.from('{"v":1}')), undefined, 'another packet id');
  assert.equal(memory.size, 1);
  // The same id with another payload: the client reused it, so the held message is gone for good.
  assert.equal(memory.repeated(device, 7, 't/telemetry', Buffer.from('{"v":2}')), undefined);
  assert.equal(memory.size, 0);
  assert.equal(memory.repeated(device, 7, 't/telemetry', Buffer.from('{"v":1}')), undefined);
});

test('a held message is released by its PUBACK (not by an older holder), and forgotten after its time to live', () => {
  const memory = new UnacknowledgedMessages(60_000);
  const older = message('t/telemetry', 'a', 0);
  const newer = message('t/telemetry', 'b', 10);
  memory.hold(device, 1, older);
  memory.hold(device, 1, newer);
  memory.release(device, 1, older);
  assert.equal(memory.repeated(device, 1, 't/telemetry', Buffer.from('b')), newer, 'the PUBACK of a superseded message frees nothing');
  memory.release(device, 1, newer);
  assert.equal(memory.size, 0);
  memory.hold(device, 2, message('t/telemetry', 'c', 0));
  memory.hold(other, 3, message('t/telemetry', 'd', 50_000));
  assert.equal(memory.sweep(70_000), 1);
  assert.equal(memory.size, 1);
  assert.ok(memory.repeated(other, 3, 't/telemetry', Buffer.from('d')));
});
