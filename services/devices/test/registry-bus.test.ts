// The device registry through the real bus: serials settled by the first claim, credentials as the directory sees them.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadAggregate, request, type Caller } from '@vigil/bus';
import { DeviceNotFoundError, deviceSubjects, parseCommandAccepted, SerialTakenError, serialSubject } from '@vigil/devices-contract';
import { createCertificateAuthority, issueSaeCertificate } from '@vigil/pki';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { DeviceDirectory } from '../src/registry/device-directory.ts';
import { RegistryWorker } from '../src/registry/registry-worker.ts';

let t: TestBus;
let worker: RegistryWorker;
let directory: DeviceDirectory;
const acme: Caller & { tenant: string } = { actor: { kind: 'user', id: 'alice' }, tenant: 'acme' };
const other: Caller & { tenant: string } = { actor: { kind: 'user', id: 'mallory' }, tenant: 'other' };
const lamp = (serial: string) => ({ name: `Lamp ${serial}`, device_type: 'streetlight', serial });

before(async () => {
  t = await startTestBus();
  worker = new RegistryWorker({ bus: t.bus, logger: testLogger('registry') });
  worker.start();
  directory = new DeviceDirectory(t.bus);
  await directory.start();
});
after(async () => {
  await directory.stop();
  await worker.stop();
  await t.close();
});

test('of 8 concurrent registrations of one serial, exactly one wins; the same serial in another tenant is free', async () => {
  const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => worker.register(acme, lamp('SN-RACE'))));
  const won = outcomes.filter((o) => o.status === 'fulfilled');
  assert.equal(won.length, 1);
  for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof SerialTakenError, String(o.reason));
  const claim = await loadAggregate(t.bus, serialSubject('acme', 'SN-RACE'));
  assert.equal(claim.events.length, 1, 'one claim, no device left half-registered');
  await worker.register(other, lamp('SN-RACE'));
});

test('a secret authenticates in the directory; rotation revokes the old one at once; decommissioning frees the serial', async () => {
  const { device_id } = await worker.register(acme, lamp('SN-ROT'));
  const first = await worker.issueCredential(acme, { device_id, credential: { kind: 'secret' } });
  assert.match(first.secret ?? '', /^vds_[A-Za-z0-9_-]{43}$/);
  await directory.reach(first.seq);
  const ok = directory.authenticateSecret(device_id, first.secret ?? '');
  assert.ok(ok.ok && ok.device.tenant === 'acme' && ok.credentialId === first.credential_id);
  assert.deepEqual(directory.authenticateSecret(device_id, 'vds_wrong'), { ok: false, reason: 'wrong_secret' });

  const withdrawn: string[][] = [];
  const unlisten = directory.onAccessWithdrawn((c) => withdrawn.push([...c.remainingCredentials]));
  const second = await worker.issueCredential(acme, { device_id, credential: { kind: 'secret', replace_existing: true } });
  await directory.reach(second.seq);
  assert.deepEqual(directory.authenticateSecret(device_id, first.secret ?? ''), { ok: false, reason: 'wrong_secret' });
  assert.ok(directory.authenticateSecret(device_id, second.secret ?? '').ok);
  assert.deepEqual(withdrawn, [[second.credential_id]], 'the broker is told which credentials remain');
  assert.equal(directory.bySerial('acme', 'SN-ROT')?.deviceId, device_id);

  const { seq } = await worker.decommission(acme, { device_id, reason: 'retired' });
  await directory.reach(seq);
  unlisten();
  assert.deepEqual(directory.authenticateSecret(device_id, second.secret ?? ''), { ok: false, reason: 'decommissioned' });
  assert.equal(directory.bySerial('acme', 'SN-ROT'), undefined);
  await worker.register(acme, lamp('SN-ROT'));
});

test('an expired secret no longer authenticates', async () => {
  const { device_id } = await worker.register(acme, lamp('SN-EXP'));
  const issued = await worker.issueCredential(acme, { device_id, credential: { kind: 'secret', expires_at: new Date(Date.now() + 60_000).toISOString() } });
  await directory.reach(issued.seq);
  assert.ok(directory.authenticateSecret(device_id, issued.secret ?? '').ok);
  assert.deepEqual(directory.authenticateSecret(device_id, issued.secret ?? '', new Date(Date.now() + 120_000)), { ok: false, reason: 'no_credentials' });
});

test('another tenant cannot touch a device: not found, over the bus as in process', async () => {
  const { device_id } = await worker.register(acme, lamp('SN-ISO'));
  await assert.rejects(worker.issueCredential(other, { device_id, credential: { kind: 'secret' } }), DeviceNotFoundError);
  await assert.rejects(worker.decommission(other, { device_id }), DeviceNotFoundError);
  await assert.rejects(
    request(t.bus, deviceSubjects.sendCommand, { device_id, name: 'dim', parameters: { level: 10 } }, { timeoutMs: 5000, parse: parseCommandAccepted, caller: other }),
    DeviceNotFoundError,
  );
  const accepted = await request(t.bus, deviceSubjects.sendCommand, { device_id, name: 'dim', parameters: { level: 10 } }, { timeoutMs: 5000, parse: parseCommandAccepted, caller: acme });
  assert.ok(accepted.seq > 0);
});

test('a certificate credential is stored as its fingerprint; a malformed certificate is a bad request', async () => {
  const { device_id } = await worker.register(acme, lamp('SN-CERT'));
  const ca = await createCertificateAuthority({ commonName: 'Device CA' });
  // A client-authentication leaf whose CN is the device id: what `vigil pki` issues to SAEs and devices alike.
  const leaf = await issueSaeCertificate(ca, { saeId: device_id });
  const issued = await worker.issueCredential(acme, { device_id, credential: { kind: 'certificate', certificate_pem: leaf.certificatePem } });
  assert.equal(issued.secret, undefined, 'a certificate credential has no secret to show');
  await directory.reach(issued.seq);
  const fingerprint = new X509Certificate(leaf.certificatePem).fingerprint256.replaceAll(':', '');
  assert.ok(directory.authenticateCertificate(device_id, fingerprint).ok);
  assert.deepEqual(directory.authenticateSecret(device_id, 'vds_x'), { ok: false, reason: 'no_credentials' });
  await assert.rejects(worker.issueCredential(acme, { device_id, credential: { kind: 'certificate', certificate_pem: `-----BEGIN CERTIFICATE-----\n${'A'.repeat(80)}\n-----END CERTIFICATE-----` } }), /not a PEM X.509 certificate/);
});
