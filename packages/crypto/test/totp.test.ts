import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchTotpStep, newTotpSecret, totpCode, totpStep, totpUri } from '../src/index.ts';

test('RFC 6238 test vector (SHA-1, 6 digits): 59 s gives 287082', () => {
  // The RFC's secret is ASCII "12345678901234567890"; base32 of it:
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  assert.equal(totpCode(secret, totpStep(59_000)), '287082');
  assert.equal(matchTotpStep(secret, '287082', 59_000), 1);
});

test('a code matches its own step, one step of drift either way, and nothing else', () => {
  const secret = newTotpSecret();
  const now = Date.UTC(2026, 0, 1, 12, 0, 15);
  const step = totpStep(now);
  assert.equal(matchTotpStep(secret, totpCode(secret, step), now), step);
  assert.equal(matchTotpStep(secret, totpCode(secret, step - 1), now), step - 1);
  assert.equal(matchTotpStep(secret, totpCode(secret, step + 1), now), step + 1);
  assert.equal(matchTotpStep(secret, totpCode(secret, step - 2), now), undefined);
  assert.equal(matchTotpStep(secret, 'abcdef', now), undefined);
  assert.equal(matchTotpStep(secret, '1234567', now), undefined);
});

test('the otpauth URI names issuer and account and carries the secret', () => {
  const secret = newTotpSecret();
  assert.equal(secret.length, 32, '160 bits in base32');
  const uri = totpUri(secret, 'Vigil', 'acme:alice');
  assert.match(uri, /^otpauth:\/\/totp\/Vigil:acme%3Aalice\?/);
  assert.match(uri, new RegExp(`secret=${secret}`));
  assert.match(uri, /period=30/);
});
