import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digestsEqual, randomToken, sha256Hex } from '../src/index.ts';
import { pooledRandomBytes } from '../src/random-pool.ts';

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

test('pooled random bytes: never handed out twice, across pool refills, and only sizes the pool can give', () => {
  const seen = new Set<string>();
  // 4096-byte pool: 600 draws of 32 bytes refill it several times, some draws straddling a refill.
  for (let i = 0; i < 600; i++) seen.add(pooledRandomBytes(32 + (i % 7)).toString('hex'));
  assert.equal(seen.size, 600);
  assert.equal(pooledRandomBytes(4096).length, 4096);
  assert.throws(() => pooledRandomBytes(0), RangeError);
  assert.throws(() => pooledRandomBytes(4097), RangeError);
});
