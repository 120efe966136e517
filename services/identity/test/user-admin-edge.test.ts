// Administration of users and my own password, end to end: real HTTP clients, two edges, one worker, real NATS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, within, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
const password: Record<string, string> = {
  olive: 'the owner of corp has a long phrase',
  adam: 'the admin of corp has a long phrase',
  vic: 'first viewer: a long enough phrase',
  walt: 'second viewer: a long enough phrase',
  opal: 'an operator with a long pass phrase',
  pete: 'another person with a long phrase',
};
const pw = (name: string): string => password[name] ?? '';
const ids: Record<string, string> = {};
const idOf = (name: string): string => ids[name] ?? '';

async function login(url: string, username: string, secret = pw(username)) {
  return call(url, 'POST', '/auth/login', { tenant: 'corp', username, password: secret });
}

async function signIn(username: string, url = edgeA): Promise<{ access: string; refresh: string }> {
  const res = await login(url, username);
  assert.equal(res.status, 200, `${username}: ${JSON.stringify(res.body)}`);
  return { access: text(res.body['access_token']), refresh: text(res.body['refresh_token']) };
}

async function makeKey(token: string, permissions: string[]): Promise<string> {
  const res = await call(edgeA, 'POST', '/api-keys', { name: 'k', permissions, expires_at: new Date(Date.now() + 86_400_000).toISOString(), rate_limit_per_minute: 1000 }, token);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return text(res.body['key']);
}

const works = async (url: string, token: string) => (await call(url, 'GET', '/api-keys', undefined, token)).status === 200;
const refused = async (url: string, token: string) => (await call(url, 'GET', '/api-keys', undefined, token)).status === 401;

let olive: string;
let adam: string;

before(async () => {
  t = await startIdentity();
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  ids['olive'] = (await t.worker.createTenant({ tenant_id: 'corp', name: 'Corp', owner: { username: 'olive', email: 'olive@corp.example', password: pw('olive') } })).owner_user_id;
  olive = (await signIn('olive')).access;
  for (const [name, roles] of [
    ['adam', ['admin']],
    ['vic', ['viewer']],
    ['walt', ['viewer']],
    ['opal', ['operator']],
    ['pete', ['viewer']],
  ] as const) {
    const res = await call(edgeA, 'POST', '/users', { username: name, email: `${name}@corp.example`, password: pw(name), roles }, olive);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ids[name] = text(res.body['user_id']);
  }
  adam = (await signIn('adam')).access;
});
after(async () => {
  await t.close();
});

describe('administration of users', () => {
  test('disable: sessions end and API keys stop at every edge within a second; no more sign-in; audited', async () => {
    const vic = await signIn('vic');
    const key = await makeKey(vic.access, ['profile:self']);
    assert.ok(await works(edgeB, vic.access));
    const res = await call(edgeA, 'POST', `/users/${idOf('vic')}/disable`, { reason: 'left the agency' }, adam);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((await within(1000, () => refused(edgeB, vic.access))) < 1000);
    assert.ok((await within(1000, () => refused(edgeB, key))) < 1000);
    assert.equal((await call(edgeA, 'POST', '/auth/refresh', { refresh_token: vic.refresh })).status, 401);
    assert.equal((await login(edgeA, 'vic')).status, 401);
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('vic')}/disable`, {}, adam)).status, 200, 'again: a no-op');
    const audit = (await events(StreamName.Audit)).filter((e) => e.type === 'audit.auth.user_disabled');
    assert.deepEqual(
      audit.map((e) => [e.data['user_id'], e.data['sessions_ended'], e.data['api_keys_revoked']]),
      [[idOf('vic'), 1, 1]],
    );
  });

  test('disable: an admin cannot disable an owner, nobody disables themselves, a viewer disables nobody', async () => {
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('olive')}/disable`, {}, adam)).status, 403);
    const self = await call(edgeA, 'POST', `/users/${idOf('adam')}/disable`, {}, adam);
    assert.equal(self.status, 409);
    assert.equal(self.body['code'], 'VGL_USER_STATE');
    const walt = await signIn('walt');
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('pete')}/disable`, {}, walt.access)).status, 403);
    assert.equal((await call(edgeA, 'POST', '/users/01890a5d-ac96-774b-bcce-b302099a8057/disable', {}, adam)).status, 404);
  });

  test('unlock: a locked account signs in again at once after an admin unlocks it; audited', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await login(edgeA, 'walt', 'a long but wrong pass phrase')).status, 401);
    assert.equal((await login(edgeA, 'walt')).status, 401, 'locked');
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('walt')}/unlock`, undefined, adam)).status, 200);
    assert.equal((await login(edgeA, 'walt')).status, 200);
    const audit = (await events(StreamName.Audit)).filter((e) => e.type === 'audit.auth.account_unlocked');
    assert.deepEqual(audit.map((e) => e.data['user_id']), [idOf('walt')]);
  });

  test('roles: assign within my permissions; a revocation ends the sessions and the keys that carried it', async () => {
    const assigned = await call(edgeA, 'POST', `/users/${idOf('walt')}/roles`, { role: 'operator' }, adam);
    assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
    assert.deepEqual(assigned.body['roles'], ['viewer', 'operator']);
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('walt')}/roles`, { role: 'owner' }, adam)).status, 403, 'beyond the admin’s own');
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('walt')}/roles`, { role: 'platform_admin' }, olive)).status, 403);
    const walt = await signIn('walt');
    const writer = await makeKey(walt.access, ['devices:write', 'profile:self']);
    const reader = await makeKey(walt.access, ['devices:read', 'profile:self']);
    const revoked = await call(edgeA, 'DELETE', `/users/${idOf('walt')}/roles/operator`, undefined, adam);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.deepEqual(revoked.body['roles'], ['viewer']);
    await within(1000, () => refused(edgeB, walt.access));
    await within(1000, () => refused(edgeB, writer));
    assert.ok(await works(edgeB, reader), 'a key within the roles left keeps working');
    const last = await call(edgeA, 'DELETE', `/users/${idOf('walt')}/roles/viewer`, undefined, adam);
    assert.equal(last.status, 409, 'a user keeps one role');
    const audit = (await events(StreamName.Audit)).filter((e) => e.type === 'audit.auth.role_changed' && e.data['user_id'] === idOf('walt'));
    assert.deepEqual(
      audit.map((e) => [e.data['role'], e.data['change'], e.data['sessions_ended'], e.data['api_keys_revoked']]),
      [
        ['operator', 'assigned', 0, 0],
        ['operator', 'revoked', 1, 1],
      ],
    );
  });
});

describe('my password', () => {
  test('re-authentication first; then every other session ends, this one stays; the new password signs in', async () => {
    const here = await signIn('opal', edgeA);
    const there = await signIn('opal', edgeB);
    const next = 'the operator picked a new long phrase';
    const wrong = await call(edgeA, 'POST', '/auth/password', { current_password: 'not the right long phrase', new_password: next }, here.access);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body['code'], 'VGL_AUTHENTICATION_FAILED');
    const weak = await call(edgeA, 'POST', '/auth/password', { current_password: pw('opal'), new_password: 'password1234' }, here.access);
    assert.equal(weak.status, 400);
    const key = await makeKey(here.access, ['profile:self']);
    assert.equal((await call(edgeA, 'POST', '/auth/password', { current_password: pw('opal'), new_password: next }, key)).status, 403, 'a key cannot change a password');
    assert.equal((await call(edgeA, 'POST', '/auth/password', { current_password: pw('opal'), new_password: next }, here.access)).status, 200);
    assert.ok((await within(1000, () => refused(edgeB, there.access))) < 1000);
    assert.equal((await call(edgeB, 'POST', '/auth/refresh', { refresh_token: there.refresh })).status, 401);
    assert.ok(await works(edgeB, here.access), 'the session that changed it stays');
    assert.ok(await works(edgeB, key), 'API keys are not sessions: they stay');
    assert.equal((await login(edgeA, 'opal')).status, 401, 'the old password');
    assert.equal((await login(edgeA, 'opal', next)).status, 200);
  });

  test('wrong current passwords count toward the lockout, exactly like sign-ins', async () => {
    const pete = await signIn('pete');
    for (let i = 0; i < 5; i++) {
      const res = await call(edgeA, 'POST', '/auth/password', { current_password: 'a long but wrong pass phrase', new_password: 'some brand new long phrase' }, pete.access);
      assert.equal(res.status, 401);
    }
    assert.equal((await login(edgeA, 'pete')).status, 401, 'locked');
    const locks = (await events(StreamName.Audit)).filter((e) => e.type === 'audit.auth.account_locked' && e.data['user_id'] === idOf('pete'));
    assert.equal(locks.length, 1);
  });
});

describe('what is kept', () => {
  test('no password, old or new, in any log line or stored event', async () => {
    const stored = JSON.stringify([...(await events(StreamName.AuthEvent)), ...(await events(StreamName.Audit))]);
    assert.ok(t.logs.text.includes('password changed'), 'the logs were captured');
    for (const secret of [...Object.values(password), 'the operator picked a new long phrase']) {
      assert.equal(t.logs.text.includes(secret), false, `a password in the logs: ${secret.slice(0, 6)}…`);
      assert.equal(stored.includes(secret), false, `a password in a stream: ${secret.slice(0, 6)}…`);
    }
  });
});

async function events(name: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  return (await storedMessages(t.testBus.bus, name)).flatMap((text) => {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string' && 'data' in v && typeof v.data === 'object' && v.data !== null
      ? [{ type: v.type, data: Object.fromEntries(Object.entries(v.data)) }]
      : [];
  });
}
