// API keys end to end: real HTTP clients against two edges, one identity worker, real NATS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadAggregate } from '@vigil/bus';
import { sha256Hex } from '@vigil/crypto';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, within, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
const secrets: string[] = [];
const remember = (value: string): string => {
  secrets.push(value);
  return value;
};
const password = { alice: 'the owner has a long pass phrase', bob: 'a viewer with a long pass phrase', carol: 'an admin with a long pass phrase' };
const day = 86_400_000;
const inDays = (n: number) => new Date(Date.now() + n * day).toISOString();

async function signIn(username: keyof typeof password): Promise<string> {
  const res = await call(edgeA, 'POST', '/auth/login', { tenant: 'keys', username, password: password[username] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return remember(text(res.body['access_token']));
}

async function makeKey(token: string, body: Record<string, unknown> = {}) {
  const res = await call(edgeA, 'POST', '/api-keys', { name: 'a key', permissions: ['devices:read', 'profile:self'], expires_at: inDays(30), rate_limit_per_minute: 600, ...body }, token);
  if (typeof res.body['key'] === 'string') remember(res.body['key']);
  return res;
}

/** A request with the key in `X-API-Key` rather than `Authorization`. */
async function withApiKeyHeader(url: string, path: string, key: string): Promise<number> {
  return (await fetch(`${url}${path}`, { headers: { 'x-api-key': key } })).status;
}

const keyList = (body: Record<string, unknown>) => (Array.isArray(body['api_keys']) ? body['api_keys'] : []).filter((k): k is Record<string, unknown> => typeof k === 'object' && k !== null);

let alice: string;
let bob: string;
let carol: string;

before(async () => {
  t = await startIdentity();
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  await t.worker.createTenant({ tenant_id: 'keys', name: 'Keys', max_api_keys: 6, owner: { username: 'alice', email: 'alice@keys.example', password: password.alice } });
  alice = await signIn('alice');
  for (const [username, roles] of [
    ['bob', ['viewer']],
    ['carol', ['admin']],
  ] as const) {
    const res = await call(edgeA, 'POST', '/users', { username, email: `${username}@keys.example`, password: password[username], roles }, alice);
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  bob = await signIn('bob');
  carol = await signIn('carol');
});
after(async () => {
  await t.close();
});

describe('API keys through the edge', () => {
  test('made once as vgl_<id>_<secret>; works at once at this edge and at another, by either header', async () => {
    const made = await makeKey(bob, { permissions: ['devices:read', 'profile:self'] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = text(made.body['key']);
    const id = text(made.body['id']);
    assert.match(key, new RegExp(`^vgl_${id}_[A-Za-z0-9_-]{43}$`), 'the secret is 256 bits in base64url');
    assert.equal(made.headers.get('cache-control'), 'no-store');
    const listed = await call(edgeA, 'GET', '/api-keys', undefined, key);
    assert.equal(listed.status, 200, 'usable at the edge that made it, in the same breath');
    const mine = keyList(listed.body);
    assert.deepEqual(mine.map((k) => k['id']), [id]);
    assert.equal(mine[0]?.['key'], undefined, 'a list never shows the key');
    assert.deepEqual(mine[0]?.['permissions'], ['devices:read', 'profile:self']);
    assert.equal((await call(edgeB, 'GET', '/api-keys', undefined, key)).status, 200, 'at another edge in the same breath too');
    assert.equal(await withApiKeyHeader(edgeB, '/api-keys', key), 200);
    const { events } = await loadAggregate(t.testBus.bus, `auth.keys.apikey.${id}`);
    assert.equal(events[0]?.event.type, 'auth.apikey.created');
    const stored = events[0]?.event.data;
    assert.ok(typeof stored === 'object' && stored !== null && 'secret_sha256' in stored);
    assert.equal(stored.secret_sha256, sha256Hex(key), 'only the SHA-256 is stored');
  });

  test('a wrong secret, an unknown id, a malformed key: 401', async () => {
    const made = await makeKey(bob);
    const key = text(made.body['key']);
    const wrongSecret = `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
    for (const bad of [wrongSecret, `vgl_01890a5d-ac96-774b-bcce-b302099a8057_${'A'.repeat(43)}`, 'vgl_nonsense']) {
      assert.equal((await call(edgeA, 'GET', '/api-keys', undefined, bad)).status, 401);
      assert.equal(await withApiKeyHeader(edgeA, '/api-keys', bad), 401);
    }
  });

  test('a key does what its permissions allow and nothing more (403, audited with the key)', async () => {
    const made = await makeKey(alice, { permissions: ['profile:self'] });
    const key = text(made.body['key']);
    const denied = await call(edgeA, 'POST', '/users', { username: 'mallory', email: 'm@keys.example', roles: ['viewer'] }, key);
    assert.equal(denied.status, 403, 'alice may create users; her key may not');
    const narrow = await makeKey(alice, { permissions: ['users:create', 'users:read'] });
    const viewer = { username: 'dave', email: 'dave@keys.example', roles: ['viewer'] };
    assert.equal((await call(edgeA, 'POST', '/users', viewer, text(narrow.body['key']))).status, 403, 'a key grants no role beyond its own permissions, whatever its maker holds');
    const full = await makeKey(alice, { permissions: ['users:create', 'devices:read', 'api_keys:create', 'profile:self'] });
    const created = await call(edgeA, 'POST', '/users', viewer, text(full.body['key']));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const owner = await call(edgeA, 'POST', '/users', { username: 'erin', email: 'erin@keys.example', roles: ['owner'] }, text(full.body['key']));
    assert.equal(owner.status, 403);
    const audit = await streamText(StreamName.Audit);
    assert.ok(audit.includes(`"api_key_id":"${text(made.body['id'])}"`), 'the denial names the key');
    for (const id of [text(made.body['id']), text(narrow.body['id']), text(full.body['id'])]) assert.equal((await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, alice)).status, 200);
  });

  test('a key gets only a subset of its maker’s permissions; keys do not make keys or sign in; expiry within 365 days', async () => {
    const beyond = await makeKey(bob, { permissions: ['users:create'] });
    assert.equal(beyond.status, 403);
    assert.match(String(beyond.body['detail']), /users:create/);
    assert.equal((await makeKey(bob, { permissions: ['devices:write'] })).status, 403, 'operators write devices; viewers do not');
    assert.equal((await makeKey(bob, { expires_at: new Date(Date.now() - 1000).toISOString() })).status, 400);
    assert.equal((await makeKey(bob, { expires_at: inDays(366) })).status, 400);
    assert.equal((await makeKey(bob, { permissions: ['no:such'] })).status, 400, 'only permissions the contract knows');
    const made = await makeKey(bob, { permissions: ['api_keys:create', 'profile:self'] });
    const key = text(made.body['key']);
    const byKey = await makeKey(key);
    assert.equal(byKey.status, 403);
    assert.equal(byKey.body['code'], 'VGL_SESSION_REQUIRED', 'keys do not make keys, whatever they carry');
    for (const [method, path] of [
      ['POST', '/auth/logout'],
      ['GET', '/auth/sessions'],
      ['POST', '/auth/mfa/enroll'],
    ] as const) {
      const res = await call(edgeA, method, path, undefined, key);
      assert.equal(res.body['code'], 'VGL_SESSION_REQUIRED', `${method} ${path}: a key has no session`);
    }
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${text(made.body['id'])}`, undefined, bob)).status, 200);
  });

  test('revoked by its owner: 401 at once at this edge, within a second at the other; others cannot revoke it (404)', async () => {
    const made = await makeKey(bob);
    const key = text(made.body['key']);
    const id = text(made.body['id']);
    await within(1000, async () => (await call(edgeB, 'GET', '/api-keys', undefined, key)).status === 200);
    const other = await makeKey(carol, { permissions: ['profile:self'] });
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, text(other.body['key']))).status, 404, 'a key of carol’s own is not an admin');
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, bob)).status, 200);
    assert.equal((await call(edgeA, 'GET', '/api-keys', undefined, key)).status, 401);
    const ms = await within(1000, async () => (await call(edgeB, 'GET', '/api-keys', undefined, key)).status === 401);
    assert.ok(ms < 1000);
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, bob)).status, 404, 'revoked already');
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${text(other.body['id'])}`, undefined, carol)).status, 200);
  });

  test('an admin lists and revokes anyone’s keys in the tenant; a viewer lists only their own', async () => {
    const made = await makeKey(bob);
    const id = text(made.body['id']);
    assert.equal((await call(edgeA, 'GET', '/api-keys?all=true', undefined, bob)).status, 403);
    const all = await call(edgeA, 'GET', '/api-keys?all=true', undefined, carol);
    assert.equal(all.status, 200);
    assert.ok(keyList(all.body).some((k) => k['id'] === id));
    assert.ok(!keyList((await call(edgeA, 'GET', '/api-keys', undefined, carol)).body).some((k) => k['id'] === id), 'without all: only mine');
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, carol)).status, 200);
    const audit = await streamText(StreamName.Audit);
    assert.ok(audit.includes(`"key_id":"${id}","reason":"admin"`));
  });

  test('over its rate limit: 429 with Retry-After, as problem+json; other keys are not affected', async () => {
    const made = await makeKey(bob, { rate_limit_per_minute: 3 });
    const key = text(made.body['key']);
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await fetch(`${edgeA}/api-keys`, { headers: { authorization: `Bearer ${key}` } });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.ok(last);
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
    assert.equal(last.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    const problem: unknown = await last.json();
    assert.ok(typeof problem === 'object' && problem !== null && 'code' in problem && problem.code === 'VGL_RATE_LIMITED');
    const another = await makeKey(bob);
    assert.equal((await call(edgeA, 'GET', '/api-keys', undefined, text(another.body['key']))).status, 200);
    for (const id of [text(made.body['id']), text(another.body['id'])]) await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, bob);
  });

  test('last use is recorded without an event per request: shown to the minute, the key’s subject does not grow', async () => {
    const made = await makeKey(bob);
    const key = text(made.body['key']);
    const id = text(made.body['id']);
    assert.equal(keyList((await call(edgeA, 'GET', '/api-keys', undefined, bob)).body).find((k) => k['id'] === id)?.['last_used_at'], null);
    for (let i = 0; i < 5; i++) assert.equal((await call(edgeA, 'GET', '/api-keys', undefined, key)).status, 200);
    await within(15_000, async () => typeof keyList((await call(edgeA, 'GET', '/api-keys', undefined, bob)).body).find((k) => k['id'] === id)?.['last_used_at'] === 'string');
    const { events } = await loadAggregate(t.testBus.bus, `auth.keys.apikey.${id}`);
    assert.deepEqual(events.map((e) => e.event.type), ['auth.apikey.created'], 'no event per use');
    await call(edgeA, 'DELETE', `/api-keys/${id}`, undefined, bob);
  });

  test('the tenant quota holds under concurrent creations; a revoked key gives its slot back', async () => {
    const listed = keyList((await call(edgeA, 'GET', '/api-keys?all=true', undefined, alice)).body);
    const free = 6 - listed.length;
    assert.ok(free >= 1, `${listed.length} keys alive`);
    const outcomes = await Promise.all(Array.from({ length: free + 3 }, () => makeKey(alice)));
    assert.equal(outcomes.filter((o) => o.status === 201).length, free);
    assert.ok(outcomes.filter((o) => o.status !== 201).every((o) => o.status === 409 && o.body['code'] === 'VGL_API_KEY_QUOTA_EXCEEDED'));
    const one = outcomes.find((o) => o.status === 201);
    assert.ok(one);
    assert.equal((await call(edgeA, 'DELETE', `/api-keys/${text(one.body['id'])}`, undefined, alice)).status, 200);
    assert.equal((await makeKey(alice)).status, 201);
  });

  test('no API key or its secret in any log line or stored event', async () => {
    const stored = (await streamText(StreamName.AuthEvent)) + (await streamText(StreamName.Audit));
    assert.ok(secrets.some((s) => s.startsWith('vgl_')));
    for (const secret of secrets) {
      const hidden = secret.startsWith('vgl_') ? secret.slice(41) : secret;
      assert.equal(t.logs.text.includes(hidden), false, `a secret in the logs: ${secret.slice(0, 6)}…`);
      assert.equal(stored.includes(hidden), false, `a secret in a stream: ${secret.slice(0, 6)}…`);
    }
  });
});

async function streamText(name: string): Promise<string> {
  return (await storedMessages(t.testBus.bus, name)).map((m) => `${m}\n`).join('');
}
