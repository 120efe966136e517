import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestsEqual, randomToken, sha256Hex } from '../src/index.ts';

test('random tokens carry at least 256 bits and never repeat', () => {
  const tokens = Array.from({ length: 1000 }, () => randomToken());
  for (const t of tokens) assert.equal(Buffer.from(t, 'base64url').length, 32);
  assert.equal(new Set(tokens).size, tokens.length);
  assert.throws(() => randomToken(16), /256/);
});

test('sha256Hex and constant-time digest comparison', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(digestsEqual(sha256Hex('a'), sha256Hex('a')), true);
  assert.equal(digestsEqual(sha256Hex('a'), sha256Hex('b')), false);
  assert.equal(digestsEqual('', ''), false);
});
