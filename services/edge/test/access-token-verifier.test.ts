// The access token verifier against keys served over a real bus: a token verified once is not checked again until it
// expires, but only those exact bytes match, and what its roles grant is resolved on every call.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serve, type Served } from '@vigil/bus';
import { identitySubjects } from '@vigil/identity-contract';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AccessTokenVerifier } from '../src/identity/access-token-verifier.ts';

let t: TestBus;
let served: Served;
let sign: (claims: Record<string, unknown>, expiresInSeconds: number) => Promise<string>;
const sub = '01890a5d-ac96-774b-bcce-b302099a8057';
const sid = '01890a5d-ac96-774b-bcce-b302099a8058';

before(async () => {
  t = await startTestBus();
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  served = serve(t.bus, { subject: identitySubjects.jwks, parse: () => undefined, handle: async () => ({ keys: [jwk] }) });
  sign = (claims, expiresInSeconds) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' })
      .setIssuer('vigil')
      .setAudience('vigil-api')
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
      .sign(privateKey);
});

after(async () => {
  await served?.stop();
  await t?.close();
});

test('a verified token is remembered, a tampered copy is not; permissions are resolved on every call', async () => {
  let granted: ReadonlySet<string> = new Set(['devices:read']);
  const verifier = new AccessTokenVerifier({ bus: t.bus, logger: testLogger(), issuer: 'vigil', audience: 'vigil-api', timeoutMs: 2000, permissionsOf: () => granted });
  await verifier.refresh();
  const token = await sign({ tenant: 'acme', sid, roles: ['field_tech'] }, 300);
  const first = await verifier.verify(token);
  assert.equal(first?.userId, sub);
  assert.deepEqual([...(first?.permissions ?? [])], ['devices:read']);

  granted = new Set();
  const again = await verifier.verify(token);
  assert.equal(again?.sessionId, sid, 'remembered');
  assert.deepEqual([...(again?.permissions ?? [])], [], 'a role changed since: its permissions are the new ones');

  const [header, payload, signature] = token.split('.');
  const otherPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')), tenant: 'evil' })).toString('base64url');
  assert.equal(await verifier.verify(`${header}.${otherPayload}.${signature}`), undefined, 'the claims of another tenant under the same signature');
  const flipped = `${signature?.slice(0, -2)}${signature?.endsWith('AA') ? 'BA' : 'AA'}`;
  assert.equal(await verifier.verify(`${header}.${payload}.${flipped}`), undefined, 'another signature');
  assert.equal(await verifier.verify(await sign({ tenant: 'acme', sid, roles: ['viewer'] }, -60)), undefined, 'expired');
});
