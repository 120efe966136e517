import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createSigningKeysFile, loadSigningKeys, rotateSigningKeysFile } from '../src/signing-keys.ts';
import { TokenIssuer } from '../src/token-issuer.ts';

const settings = { issuer: 'vigil', audience: 'vigil-api', accessTtlSeconds: 300, mfaTtlSeconds: 300 };
const subject = { userId: '01890a5d-ac96-774b-bcce-b302099a8057', tenant: 'acme', sessionId: '01890a5d-ac96-774b-bcce-b302099a8058', roles: ['viewer'] as const };

test('after a rotation the new key signs and a token of the old key still verifies', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'keys-')), 'signing.json');
  createSigningKeysFile(path, 'old');
  const before = new TokenIssuer(loadSigningKeys(path), settings);
  const oldToken = await before.accessToken({ ...subject, roles: [...subject.roles] });
  rotateSigningKeysFile(path, 'new');
  const keys = loadSigningKeys(path);
  assert.deepEqual(keys.publicKeys.map((k) => k.kid), ['old', 'new']);
  assert.equal(keys.current.kid, 'new');
  const after = new TokenIssuer(keys, settings);
  const newToken = await after.accessToken({ ...subject, roles: [...subject.roles] });
  assert.equal(decodeProtectedHeader(newToken).kid, 'new');
  const jwks = createLocalJWKSet({ keys: keys.publicKeys.map((k) => ({ ...k })) });
  for (const token of [oldToken, newToken]) {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: 'vigil', audience: 'vigil-api', typ: 'at+jwt', algorithms: ['EdDSA'] });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.equal(payload.sub, subject.userId);
    assert.equal(payload['sid'], subject.sessionId);
    assert.equal(payload['tenant'], 'acme');
    assert.ok(typeof payload.exp === 'number' && typeof payload.iat === 'number' && payload.exp - payload.iat === 300);
  }
  assert.equal(await after.verifyMfaToken(newToken), undefined, 'an access token is not an MFA challenge');
  assert.deepEqual(await after.verifyMfaToken(await after.mfaToken(subject.userId, 'acme')), { userId: subject.userId, tenant: 'acme' });
});
