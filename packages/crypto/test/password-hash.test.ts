import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, verifyAgainstDummy, verifyPassword } from '../src/index.ts';

test('argon2id with the OWASP parameters set explicitly (m=19456 KiB, t=2, p=1)', async () => {
  const phc = await hashPassword('correct horse battery staple');
  assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(await verifyPassword(phc, 'correct horse battery staple'), true);
  assert.equal(await verifyPassword(phc, 'correct horse battery stapl'), false);
  assert.notEqual(await hashPassword('correct horse battery staple'), phc, 'a fresh salt each time');
});

test('a malformed hash is no match, and the dummy never matches', async () => {
  assert.equal(await verifyPassword('not a hash', 'x'), false);
  assert.equal(await verifyAgainstDummy('anything at all'), false);
});

test('hashing runs off the event loop: timers keep firing while hashes are computed', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await Promise.all(Array.from({ length: 8 }, (_, i) => hashPassword(`password number ${i}`)));
  clearInterval(timer);
  assert.ok(ticks > 5, `the loop ran ${ticks} times`);
});
