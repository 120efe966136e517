import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { uuidv7, uuidv7Time } from '../src/index.ts';

const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('uuidv7 has the version and variant bits and carries its time', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 47 }), (ms) => {
      const id = uuidv7(ms);
      assert.match(id, v7);
      assert.ok(uuidv7Time(id) >= ms);
    }),
  );
});

test('ids made one after another sort in the order they were made, even within one millisecond', () => {
  const ids = Array.from({ length: 10_000 }, () => uuidv7());
  const sorted = [...ids].sort();
  assert.deepEqual(sorted, ids);
  assert.equal(new Set(ids).size, ids.length);
});
