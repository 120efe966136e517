import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { kekRing, open, seal, SealError } from '../src/index.ts';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

test('what is sealed opens to the same bytes, only with its context', () => {
  const ring = kekRing(k1);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 4096 }), fc.string(), (bytes, aad) => {
      const sealed = seal(ring, bytes, aad);
      assert.deepEqual(new Uint8Array(open(ring, sealed, aad)), bytes);
      assert.throws(() => open(ring, sealed, `${aad}x`), SealError);
    }),
  );
});

test('sealing never repeats a nonce and never shows the plaintext', () => {
  const ring = kekRing(k1);
  const plain = Buffer.alloc(64, 7);
  const a = seal(ring, plain, 'b');
  const b = seal(ring, plain, 'b');
  assert.notDeepEqual(a.data.subarray(0, 12), b.data.subarray(0, 12));
  assert.equal(a.data.includes(plain.subarray(0, 16)), false);
});

test('a flipped bit is detected', () => {
  const ring = kekRing(k1);
  const sealed = seal(ring, Buffer.from('key material'), 'ctx');
  const data = Buffer.from(sealed.data);
  data[14] = (data[14] ?? 0) ^ 1;
  assert.throws(() => open(ring, { kekId: sealed.kekId, data }, 'ctx'), SealError);
});

test('after rotation, new data is sealed under the new KEK and old data still opens', () => {
  const old = seal(kekRing(k1), Buffer.from('old'), 'x');
  const rotated = kekRing(k2, [k1]);
  assert.equal(open(rotated, old, 'x').toString(), 'old');
  assert.equal(seal(rotated, Buffer.from('new'), 'x').kekId, 'k2');
  assert.throws(() => open(kekRing(k2), old, 'x'), /unknown KEK k1/);
  assert.throws(() => kekRing({ id: 'short', key: randomBytes(16) }), /32 bytes/);
});
