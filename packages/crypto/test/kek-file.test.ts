import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createKekFile, loadKekRing, open, seal } from '../src/index.ts';

test('a KEK file is made once, owner-only, and loads into a ring that seals and opens', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'kek-')), 'sub', 'kek.json');
  createKekFile(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.throws(() => createKekFile(path), /exists/);
  const ring = loadKekRing(path);
  assert.equal(ring.current.id, 'k1');
  assert.equal(open(ring, seal(ring, Buffer.from('x'), 'c'), 'c').toString(), 'x');
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  assert.ok(typeof parsed === 'object' && parsed !== null);
  writeFileSync(path, JSON.stringify({ current: 'k9', keys: {} }));
  assert.throws(() => loadKekRing(path), /current key k9/);
});
