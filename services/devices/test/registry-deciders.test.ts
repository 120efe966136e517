// Given events, when a command, then events (or a refusal): the device registry's rules, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CredentialNotFoundError, DeviceDecommissionedError, DeviceNotFoundError, SerialTakenError } from '@vigil/devices-contract';
import { given, types, when } from '@vigil/testkit';
import { deviceDecider, type DeviceCredential } from '../src/registry/device.ts';
import { serialClaimDecider } from '../src/registry/serial-claim.ts';

const d1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const d2 = '01890a5d-ac96-774b-bcce-b302099a8058';
const c1 = '01890a5d-ac96-774b-bcce-b302099a8059';
const c2 = '01890a5d-ac96-774b-bcce-b302099a805a';
const profile = { device_id: d1, name: 'Lamp 1', device_type: 'streetlight', serial: 'SN-0001', metadata: { street: 'Main' } };
const registered = { type: 'device.registered', v: 1, data: profile };
const issued = (id: string, replaces: string[] = []) => ({ type: 'device.credential.issued', v: 1, data: { credential_id: id, kind: 'secret', sha256: 'a'.repeat(64), replaces } });
const credential = (id: string): DeviceCredential => ({ credentialId: id, kind: 'secret', sha256: 'b'.repeat(64) });

describe('device', () => {
  test('given nothing, when registered, then registered; registering the same id again is a retry and decides nothing', () => {
    assert.deepEqual(types(when(deviceDecider, given(deviceDecider, []), { kind: 'register', profile })), ['device.registered']);
    assert.deepEqual(when(deviceDecider, given(deviceDecider, [registered]), { kind: 'register', profile }), []);
  });

  test('credentials: issued to an active device; an unknown device is not found', () => {
    const state = given(deviceDecider, [registered]);
    const drafts = when(deviceDecider, state, { kind: 'issue_credential', deviceId: d1, credential: credential(c1), replaceExisting: false });
    assert.deepEqual(types(drafts), ['device.credential.issued']);
    assert.throws(() => when(deviceDecider, given(deviceDecider, []), { kind: 'issue_credential', deviceId: d1, credential: credential(c1), replaceExisting: false }), DeviceNotFoundError);
  });

  test('rotation: a credential issued with replace_existing revokes every other one in the same event', () => {
    const state = given(deviceDecider, [registered, issued(c1)]);
    const [draft] = when(deviceDecider, state, { kind: 'issue_credential', deviceId: d1, credential: credential(c2), replaceExisting: true });
    assert.deepEqual(draft?.data, { credential_id: c2, kind: 'secret', sha256: 'b'.repeat(64), replaces: [c1] });
    const after = given(deviceDecider, [registered, issued(c1), issued(c2, [c1])]);
    assert.equal(after.status, 'active');
    if (after.status === 'active') assert.deepEqual(after.credentials.map((c) => c.credentialId), [c2]);
  });

  test('revocation: a live credential is revoked; an unknown or already revoked one is not found', () => {
    const state = given(deviceDecider, [registered, issued(c1)]);
    assert.deepEqual(types(when(deviceDecider, state, { kind: 'revoke_credential', deviceId: d1, credentialId: c1, reason: 'lost' })), ['device.credential.revoked']);
    const revoked = given(deviceDecider, [registered, issued(c1), { type: 'device.credential.revoked', v: 1, data: { credential_id: c1, reason: 'lost' } }]);
    assert.throws(() => when(deviceDecider, revoked, { kind: 'revoke_credential', deviceId: d1, credentialId: c1, reason: 'again' }), CredentialNotFoundError);
  });

  test('decommissioning: once; afterwards no credential, and nothing can be issued', () => {
    const state = given(deviceDecider, [registered, issued(c1)]);
    assert.deepEqual(types(when(deviceDecider, state, { kind: 'decommission', deviceId: d1, reason: 'retired' })), ['device.decommissioned']);
    const retired = given(deviceDecider, [registered, issued(c1), { type: 'device.decommissioned', v: 1, data: { reason: 'retired' } }]);
    assert.equal(retired.status, 'decommissioned');
    assert.deepEqual(retired.credentials, []);
    assert.deepEqual(when(deviceDecider, retired, { kind: 'decommission', deviceId: d1, reason: 'again' }), []);
    assert.throws(() => when(deviceDecider, retired, { kind: 'issue_credential', deviceId: d1, credential: credential(c2), replaceExisting: false }), DeviceDecommissionedError);
    assert.throws(() => when(deviceDecider, given(deviceDecider, []), { kind: 'decommission', deviceId: d1, reason: 'x' }), DeviceNotFoundError);
  });
});

describe('serial claim', () => {
  test('the first claim wins; another device is refused; released, the serial is free again', () => {
    assert.deepEqual(types(when(serialClaimDecider, given(serialClaimDecider, []), { kind: 'claim', deviceId: d1, serial: 'SN-1' })), ['device.serial.claimed']);
    const held = given(serialClaimDecider, [{ type: 'device.serial.claimed', v: 1, data: { device_id: d1 } }]);
    assert.throws(() => when(serialClaimDecider, held, { kind: 'claim', deviceId: d2, serial: 'SN-1' }), SerialTakenError);
    assert.deepEqual(when(serialClaimDecider, held, { kind: 'claim', deviceId: d1, serial: 'SN-1' }), []);
    assert.deepEqual(when(serialClaimDecider, held, { kind: 'release', deviceId: d2 }), [], 'only the holder releases');
    const released = given(serialClaimDecider, [{ type: 'device.serial.claimed', v: 1, data: { device_id: d1 } }, { type: 'device.serial.released', v: 1, data: { device_id: d1 } }]);
    assert.deepEqual(types(when(serialClaimDecider, released, { kind: 'claim', deviceId: d2, serial: 'SN-1' })), ['device.serial.claimed']);
  });
});
