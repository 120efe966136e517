// End to end: real HTTP clients against two edges, one identity worker, real NATS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadAggregate } from '@vigil/bus';
import { totpCode, totpStep } from '@vigil/crypto';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, within, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
const secrets: string[] = [];
const remember = (...values: string[]) => {
  secrets.push(...values);
  return values[0] ?? '';
};

const adminPassword = remember('the platform admin passphrase');
const alicePassword = remember('the owner has a long pass phrase');
const bobPassword = remember('a viewer picks another long phrase');
const passwords: Record<string, string> = { carol: 'third user: a long pass phrase', dave: 'fourth user: a long pass phrase', eve: 'fifth user: a long pass phrase' };
const pw = (name: string): string => passwords[name] ?? bobPassword;
const emails = ['root@platform.example', 'alice@acme.example', 'bob@acme.example', 'carol@acme.example', 'dave@acme.example', 'eve@acme.example'];

async function login(url: string, tenant: string, username: string, password: string) {
  const res = await call(url, 'POST', '/auth/login', { tenant, username, password });
  if (res.body['access_token']) remember(text(res.body['access_token']), text(res.body['refresh_token']));
  return res;
}

async function tokens(url: string, tenant: string, username: string, password: string): Promise<{ access: string; refresh: string; session: string }> {
  const res = await login(url, tenant, username, password);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { access: text(res.body['access_token']), refresh: text(res.body['refresh_token']), session: text(res.body['session_id']) };
}

/** Polls until `check` holds; returns how long it took. */
let owner: { access: string };

before(async () => {
  t = await startIdentity();
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  assert.equal(await t.worker.bootstrapAdmin('root', emails[0] ?? '', adminPassword), 'created');
  assert.equal(await t.worker.bootstrapAdmin('root', emails[0] ?? '', adminPassword), 'exists', 'a second bootstrap does nothing');
  const admin = await tokens(edgeA, 'platform', 'root', adminPassword);
  const created = await call(edgeA, 'POST', '/tenants', { tenant_id: 'acme', name: 'Acme', owner: { username: 'alice', email: emails[1], password: alicePassword } }, admin.access);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  owner = await tokens(edgeA, 'acme', 'alice', alicePassword);
  for (const [name, email] of [
    ['bob', emails[2]],
    ['carol', emails[3]],
    ['dave', emails[4]],
    ['eve', emails[5]],
  ] as const) {
    const res = await call(edgeA, 'POST', '/users', { username: name, email, password: pw(name), roles: ['viewer'] }, owner.access);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    remember(pw(name));
  }
});
after(async () => {
  await t.close();
});

describe('identity through the edge', () => {
  test('the JWKS is served by every edge, from the worker’s keys', async () => {
    const res = await call(edgeB, 'GET', '/.well-known/jwks.json');
    assert.equal(res.status, 200);
    assert.deepEqual(
      (Array.isArray(res.body['keys']) ? res.body['keys'] : []).map((k: unknown) => (typeof k === 'object' && k !== null && 'kid' in k ? k.kid : undefined)),
      ['test1'],
    );
  });

  test('an unknown user and a wrong password get the same answer', async () => {
    const unknown = await login(edgeA, 'acme', 'nobody', 'some long wrong password');
    const wrong = await login(edgeA, 'acme', 'bob', 'some long wrong password');
    const noTenant = await login(edgeA, 'nosuchtenant', 'bob', bobPassword);
    for (const r of [unknown, wrong, noTenant]) {
      assert.equal(r.status, 401);
      assert.equal(r.body['code'], 'VGL_AUTHENTICATION_FAILED');
      assert.equal(r.body['detail'], 'invalid credentials');
    }
  });

  test('RBAC: a viewer may not create users (403, audited); the tenant comes from the token', async () => {
    const bob = await tokens(edgeA, 'acme', 'bob', bobPassword);
    const denied = await call(edgeA, 'POST', '/users', { username: 'mallory', email: 'm@acme.example', roles: ['viewer'] }, bob.access);
    assert.equal(denied.status, 403);
    assert.equal((await call(edgeA, 'POST', '/users', { username: 'xone', email: 'x@y.z', roles: ['viewer'] })).status, 401, 'no token');
    assert.equal((await call(edgeA, 'POST', '/users', { username: 'xone', email: 'x@y.z', roles: ['viewer'], tenant: 'platform' }, owner.access)).status, 400, 'no tenant in the body');
    assert.equal((await call(edgeA, 'POST', '/users', { username: 'xtwo', email: 'x2@y.z', roles: ['owner'] }, owner.access)).status, 201);
    assert.equal((await call(edgeA, 'POST', '/users', { username: 'xthree', email: 'x3@y.z', roles: ['platform_admin'] }, owner.access)).status, 403, 'no one grants platform_admin');
    const taken = await call(edgeA, 'POST', '/users', { username: 'bob', email: 'other@acme.example', roles: ['viewer'] }, owner.access);
    assert.equal(taken.status, 409);
    const weak = await call(edgeA, 'POST', '/users', { username: 'weak', email: 'weak@acme.example', password: 'password1234', roles: ['viewer'] }, owner.access);
    assert.equal(weak.status, 400);
    assert.equal(weak.body['code'], 'VGL_PASSWORD_POLICY');
  });

  test('refresh rotates; reusing a rotated token revokes the session, seen at another edge within a second', async () => {
    const first = await tokens(edgeA, 'acme', 'bob', bobPassword);
    const r1 = await call(edgeA, 'POST', '/auth/refresh', { refresh_token: first.refresh });
    assert.equal(r1.status, 200);
    const second = remember(text(r1.body['refresh_token']));
    remember(text(r1.body['access_token']));
    assert.notEqual(second, first.refresh);
    assert.equal((await call(edgeB, 'GET', '/auth/sessions', undefined, text(r1.body['access_token']))).status, 200);
    const reuse = await call(edgeA, 'POST', '/auth/refresh', { refresh_token: first.refresh });
    assert.equal(reuse.status, 401);
    assert.equal((await call(edgeA, 'POST', '/auth/refresh', { refresh_token: second })).status, 401, 'the whole session is gone');
    const ms = await within(1000, async () => (await call(edgeB, 'GET', '/auth/sessions', undefined, text(r1.body['access_token']))).status === 401);
    assert.ok(ms < 1000);
  });

  test('logout at edge A: the access token stops working at edge B within a second', async () => {
    const s = await tokens(edgeA, 'acme', 'bob', bobPassword);
    assert.equal((await call(edgeB, 'GET', '/auth/sessions', undefined, s.access)).status, 200);
    assert.equal((await call(edgeA, 'POST', '/auth/logout', undefined, s.access)).status, 200);
    assert.equal((await call(edgeA, 'GET', '/auth/sessions', undefined, s.access)).status, 401, 'at once on the edge that logged out');
    const ms = await within(1000, async () => (await call(edgeB, 'GET', '/auth/sessions', undefined, s.access)).status === 401);
    assert.ok(ms < 1000, `${ms} ms`);
    assert.equal((await call(edgeB, 'POST', '/auth/refresh', { refresh_token: s.refresh })).status, 401);
  });

  test('TOTP: enroll, confirm, sign in with a code; the same code is refused the second time', async () => {
    const carol = await tokens(edgeA, 'acme', 'carol', pw('carol'));
    const enrolled = await call(edgeA, 'POST', '/auth/mfa/enroll', undefined, carol.access);
    assert.equal(enrolled.status, 200);
    const secret = remember(text(enrolled.body['secret']));
    assert.match(text(enrolled.body['otpauth_uri']), /^otpauth:\/\/totp\/Vigil:acme%3Acarol\?/);
    const step = totpStep(Date.now());
    const confirmCode = totpCode(secret, step);
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/confirm', { code: confirmCode }, carol.access)).status, 200);
    const challenge = await login(edgeA, 'acme', 'carol', pw('carol'));
    assert.equal(challenge.body['status'], 'mfa_required');
    assert.equal(challenge.body['access_token'], undefined);
    const mfaToken = remember(text(challenge.body['mfa_token']));
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: mfaToken, code: confirmCode })).status, 401, 'the confirming code is spent');
    const code = totpCode(secret, step + 1);
    const ok = await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: mfaToken, code });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    remember(text(ok.body['access_token']), text(ok.body['refresh_token']));
    const again = await login(edgeA, 'acme', 'carol', pw('carol'));
    const replay = await call(edgeB, 'POST', '/auth/mfa/verify', { mfa_token: text(again.body['mfa_token']), code });
    assert.equal(replay.status, 401);
    assert.equal(replay.body['code'], 'VGL_MFA_FAILED');
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: carol.access, code: totpCode(secret, step + 2) })).status, 401, 'an access token is no MFA challenge');
  });

  test('lockout: of 20 concurrent wrong passwords, exactly the 5th locks; then even the right one is refused', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => login(edgeA, 'acme', 'dave', 'a long wrong password!')));
    assert.ok(answers.every((a) => a.status === 401));
    const right = await login(edgeB, 'acme', 'dave', pw('dave'));
    assert.equal(right.status, 401, 'locked');
    const userId = await userIdOf('dave');
    const { events } = await loadAggregate(t.testBus.bus, `auth.acme.user.${userId}`);
    const failures = events.filter((e) => e.event.type === 'auth.user.login_failed');
    assert.equal(failures.length, 5, 'attempts on a locked account are not counted');
    const locks = failures.filter((e) => typeof e.event.data === 'object' && e.event.data !== null && 'locked_until' in e.event.data);
    assert.equal(locks.length, 1);
    assert.equal(locks[0], failures[4], 'the lock is carried by the 5th failure');
    const audit = await streamEvents(StreamName.Audit);
    assert.equal(audit.filter((e) => e.type === 'audit.auth.account_locked' && e.data.user_id === userId).length, 1);
  });

  test('at most 5 sessions per user: a new login ends the oldest', async () => {
    const sessions = [];
    for (let i = 0; i < 6; i++) sessions.push(await tokens(edgeA, 'acme', 'eve', pw('eve')));
    const oldest = sessions[0];
    const newest = sessions[5];
    assert.ok(oldest && newest);
    await within(1000, async () => (await call(edgeB, 'GET', '/auth/sessions', undefined, oldest.access)).status === 401);
    const list = await call(edgeA, 'GET', '/auth/sessions', undefined, newest.access);
    assert.equal(list.status, 200);
    const ids = (Array.isArray(list.body['sessions']) ? list.body['sessions'] : []).map((s: unknown) => (typeof s === 'object' && s !== null && 'id' in s ? s.id : undefined));
    assert.equal(ids.length, 5);
    assert.ok(!ids.includes(oldest.session));
    const other = sessions[1];
    assert.ok(other);
    assert.equal((await call(edgeA, 'DELETE', `/auth/sessions/${other.session}`, undefined, newest.access)).status, 200);
    await within(1000, async () => (await call(edgeB, 'GET', '/auth/sessions', undefined, other.access)).status === 401);
  });

  test('sign-in routes are rate limited per client: 429 with Retry-After', async () => {
    const limited = (await t.edge({ VIGIL_AUTH_RATE_LIMIT: '3' })).url;
    const statuses = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await call(limited, 'POST', '/auth/login', { tenant: 'acme', username: 'nobody', password: 'whatever long enough' });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.ok(last);
    assert.ok(Number(last.headers.get('retry-after')) > 0);
    assert.equal(last.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });

  test('no password, token, TOTP secret or code, or e-mail address in any log line or stored event', async () => {
    const auth = (await rawStream(StreamName.AuthEvent)) + (await rawStream(StreamName.Audit));
    assert.ok(t.logs.text.includes('signed in'), 'the logs were captured');
    for (const needle of [...secrets, ...emails]) {
      assert.equal(t.logs.text.includes(needle), false, `a secret or e-mail address in the logs: ${needle.slice(0, 6)}…`);
      assert.equal(auth.includes(needle), false, `a secret or e-mail address in a stream: ${needle.slice(0, 6)}…`);
    }
    const named = /"(password|refresh_token|access_token|mfa_token|secret|email)":"(?!\[redacted\])[^"]*"/.exec(t.logs.text);
    assert.equal(named, null, `a secret-named field in the logs: ${named?.[0].slice(0, 40) ?? ''}`);
  });
});

async function userIdOf(username: string): Promise<string> {
  const created = (await streamEvents(StreamName.AuthEvent)).find((e) => e.type === 'auth.user.created' && e.data.username === username);
  const id = created?.data.user_id;
  if (typeof id !== 'string') throw new Error(`no user ${username}`);
  return id;
}

async function rawStream(name: string): Promise<string> {
  return (await storedMessages(t.testBus.bus, name)).map((m) => `${m}\n`).join('');
}

async function streamEvents(name: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  return (await rawStream(name))
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const v: unknown = JSON.parse(l);
      if (typeof v !== 'object' || v === null || !('type' in v) || typeof v.type !== 'string' || !('data' in v) || typeof v.data !== 'object' || v.data === null) throw new Error('not an event');
      return { type: v.type, data: Object.fromEntries(Object.entries(v.data)) };
    });
}
