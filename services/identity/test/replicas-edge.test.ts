// Two identity workers serve the same subjects (requests go to either), each with its own cache of user aggregates.
// A cache may be stale (the other replica changed the user): sign-in decides on it first, unread, and must still
// give exactly the answer the stream's state gives.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call, startIdentity, text, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edge: string;
const first = 'the first long pass phrase of hers';
const second = 'the second long pass phrase of hers';

before(async () => {
  t = await startIdentity();
  await t.replica();
  edge = (await t.edge()).url;
  await t.worker.createTenant({ tenant_id: 'twin', name: 'Twin', owner: { username: 'dora', email: 'dora@twin.example', password: first } });
});

after(async () => {
  await t?.close();
});

const login = (password: string) => call(edge, 'POST', '/auth/login', { tenant: 'twin', username: 'dora', password });

test('after a password change on one replica, every sign-in with the new password succeeds and none with the old', async () => {
  // Enough sign-ins that both replicas hold the user in their caches (each request goes to either).
  let token = '';
  for (let i = 0; i < 12; i++) {
    const res = await login(first);
    assert.equal(res.status, 200);
    token = text(res.body['access_token']);
  }
  const changed = await call(edge, 'POST', '/auth/password', { current_password: first, new_password: second }, token);
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  for (let i = 0; i < 12; i++) assert.equal((await login(second)).status, 200, `sign-in ${i} with the new password`);
  for (let i = 0; i < 3; i++) assert.equal((await login(first)).status, 401, `sign-in ${i} with the old password`);
  for (let i = 0; i < 6; i++) assert.equal((await login(second)).status, 200, 'three failures lock nothing');
});
