// Soft delete, restore and the user list end to end: real HTTP clients, two edges, one worker, real NATS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, within, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
let owner: string;
let adam: string;
const ids: Record<string, string> = {};
const idOf = (name: string): string => ids[name] ?? '';
const pw = (name: string) => `a long pass phrase picked by ${name === 'owner' ? 'the boss' : `user ${name.length}${name.at(-1) ?? ''}`}`;

async function signIn(username: string, url = edgeA): Promise<{ access: string; refresh: string }> {
  const res = await call(url, 'POST', '/auth/login', { tenant: 'people', username, password: pw(username) });
  assert.equal(res.status, 200, `${username}: ${JSON.stringify(res.body)}`);
  return { access: text(res.body['access_token']), refresh: text(res.body['refresh_token']) };
}

async function create(name: string, roles: string[]): Promise<number> {
  const res = await call(edgeA, 'POST', '/users', { username: name, email: `${name}@people.example`, password: pw(name), roles }, owner);
  if (res.status === 201) ids[name] = text(res.body['user_id']);
  return res.status;
}

const works = async (url: string, token: string) => (await call(url, 'GET', '/api-keys', undefined, token)).status === 200;
const refused = async (url: string, token: string) => (await call(url, 'GET', '/api-keys', undefined, token)).status === 401;

before(async () => {
  t = await startIdentity();
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  ids['owner'] = (await t.worker.createTenant({ tenant_id: 'people', name: 'People', max_users: 6, owner: { username: 'owner', email: 'owner@people.example', password: pw('owner') } })).owner_user_id;
  owner = (await signIn('owner')).access;
  for (const [name, roles] of [
    ['adam', ['admin']],
    ['aud', ['auditor']],
    ['vic', ['viewer']],
    ['val', ['viewer']],
    ['vera', ['viewer']],
  ] as const) {
    assert.equal(await create(name, [...roles]), 201);
  }
  adam = (await signIn('adam')).access;
});
after(async () => {
  await t.close();
});

describe('soft delete and restore', () => {
  test('delete: sessions end and API keys stop at every edge within a second; no sign-in; the seat is free; audited once', async () => {
    const vic = await signIn('vic', edgeB);
    const made = await call(edgeA, 'POST', '/api-keys', { name: 'k', permissions: ['profile:self'], expires_at: new Date(Date.now() + 86_400_000).toISOString(), rate_limit_per_minute: 100 }, vic.access);
    const key = text(made.body['key']);
    assert.ok(await works(edgeB, key));
    assert.equal(await create('extra', ['viewer']), 409, 'the tenant is full (6 users)');
    const res = await call(edgeA, 'DELETE', `/users/${idOf('vic')}`, undefined, adam);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((await within(1000, () => refused(edgeB, vic.access))) < 1000);
    assert.ok((await within(1000, () => refused(edgeB, key))) < 1000);
    assert.equal((await call(edgeA, 'POST', '/auth/refresh', { refresh_token: vic.refresh })).status, 401);
    assert.equal((await call(edgeA, 'POST', '/auth/login', { tenant: 'people', username: 'vic', password: pw('vic') })).status, 401);
    assert.equal((await call(edgeA, 'DELETE', `/users/${idOf('vic')}`, undefined, adam)).status, 200, 'again: a no-op');
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('vic')}/disable`, {}, adam)).status, 404, 'a deleted user is gone for other administration');
    assert.equal(await create('extra', ['viewer']), 201, 'the seat was given back');
    const audit = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.user_deleted');
    assert.deepEqual(audit.map((e) => [e.data['user_id'], e.data['sessions_ended'], e.data['api_keys_revoked']]), [[idOf('vic'), 1, 1]]);
  });

  test('who may delete: not an admin an owner, no one themselves, not a viewer; an unknown user is not found', async () => {
    assert.equal((await call(edgeA, 'DELETE', `/users/${idOf('owner')}`, undefined, adam)).status, 403);
    assert.equal((await call(edgeA, 'DELETE', `/users/${idOf('adam')}`, undefined, adam)).status, 409);
    const val = await signIn('val');
    assert.equal((await call(edgeA, 'DELETE', `/users/${idOf('vera')}`, undefined, val.access)).status, 403);
    assert.equal((await call(edgeA, 'DELETE', '/users/01890a5d-ac96-774b-bcce-b302099a8057', undefined, adam)).status, 404);
  });

  test('restore: refused while the tenant is full; then the account is back, with no session and no API key of before', async () => {
    const full = await call(edgeA, 'POST', `/users/${idOf('vic')}/restore`, undefined, adam);
    assert.equal(full.status, 409);
    assert.equal(full.body['code'], 'VGL_QUOTA_EXCEEDED');
    assert.equal((await call(edgeA, 'POST', '/auth/login', { tenant: 'people', username: 'vic', password: pw('vic') })).status, 401, 'still deleted');
    assert.equal((await call(edgeA, 'DELETE', `/users/${idOf('extra')}`, undefined, adam)).status, 200);
    assert.equal((await call(edgeB, 'POST', `/users/${idOf('vic')}/restore`, undefined, adam)).status, 200);
    assert.equal((await call(edgeB, 'POST', `/users/${idOf('vic')}/restore`, undefined, adam)).status, 200, 'again: a no-op');
    const vic = await signIn('vic', edgeB);
    assert.ok(await works(edgeA, vic.access));
    const listed = await call(edgeA, 'GET', '/api-keys', undefined, vic.access);
    assert.deepEqual(listed.body['api_keys'], [], 'the keys revoked by the delete stay revoked');
    assert.equal((await call(edgeA, 'POST', `/users/${idOf('owner')}/restore`, undefined, adam)).status, 200, 'an active user: nothing to do');
    const audit = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.user_restored');
    assert.deepEqual(audit.map((e) => e.data['user_id']), [idOf('vic')]);
  });
});

describe('the user list', () => {
  test('pages in creation order with a cursor; status filters; e-mail shown, never a credential; users:read only', async () => {
    const aud = (await signIn('aud')).access;
    const all: Record<string, unknown>[] = [];
    let after: unknown = undefined;
    let pages = 0;
    do {
      const res = await call(edgeB, 'GET', `/users?limit=3${typeof after === 'string' ? `&after=${after}` : ''}`, undefined, aud);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const users = res.body['users'];
      assert.ok(Array.isArray(users));
      for (const u of users) if (typeof u === 'object' && u !== null) all.push(Object.fromEntries(Object.entries(u)));
      after = res.body['next'];
      pages++;
    } while (typeof after === 'string');
    assert.equal(pages, 3);
    assert.deepEqual(
      all.map((u) => [u['username'], u['status']]),
      [
        ['owner', 'active'],
        ['adam', 'active'],
        ['aud', 'active'],
        ['vic', 'active'],
        ['val', 'active'],
        ['vera', 'active'],
        ['extra', 'deleted'],
      ],
    );
    assert.deepEqual(all[1], { id: idOf('adam'), username: 'adam', email: 'adam@people.example', roles: ['admin'], status: 'active', locked_until: null, mfa: false, created_at: all[1]?.['created_at'] });
    const deleted = await call(edgeA, 'GET', '/users?status=deleted', undefined, owner);
    assert.deepEqual(deleted.body, { users: [all[6]], next: null });
    const val = await signIn('val');
    assert.equal((await call(edgeA, 'GET', '/users', undefined, val.access)).status, 403, 'a viewer has no users:read');
    assert.equal((await call(edgeA, 'GET', '/users?limit=0', undefined, owner)).status, 400);
    const text = JSON.stringify(all);
    assert.ok(!/argon2|password|sha256|sealed/.test(text), text);
  });
});

async function recorded(name: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  return (await storedMessages(t.testBus.bus, name)).flatMap((line) => {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string' && 'data' in v && typeof v.data === 'object' && v.data !== null
      ? [{ type: v.type, data: Object.fromEntries(Object.entries(v.data)) }]
      : [];
  });
}
