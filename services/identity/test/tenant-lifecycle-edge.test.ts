// A tenant's lifecycle end to end: real HTTP clients, two edges, one worker, real NATS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadAggregate } from '@vigil/bus';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, within, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
let root: string;
const rootPassword = 'the platform admin pass phrase';
const ownerPassword = 'the boss of susp has a long phrase';
const viewerPassword = 'someone at susp with a long phrase';
const otherPassword = 'the boss of other has a long phrase';

async function signIn(url: string, tenant: string, username: string, password: string): Promise<{ access: string; refresh: string; session: string }> {
  const res = await call(url, 'POST', '/auth/login', { tenant, username, password });
  assert.equal(res.status, 200, `${tenant}/${username}: ${JSON.stringify(res.body)}`);
  return { access: text(res.body['access_token']), refresh: text(res.body['refresh_token']), session: text(res.body['session_id']) };
}

const status = async (url: string, credential: string) => (await call(url, 'GET', '/api-keys', undefined, credential)).status;

before(async () => {
  t = await startIdentity();
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  await t.worker.bootstrapAdmin('root', 'root@platform.example', rootPassword);
  root = (await signIn(edgeA, 'platform', 'root', rootPassword)).access;
  for (const [tenant, password] of [
    ['susp', ownerPassword],
    ['other', otherPassword],
  ] as const) {
    const made = await call(edgeA, 'POST', '/tenants', { tenant_id: tenant, name: tenant, owner: { username: 'owner', email: `owner@${tenant}.example`, password } }, root);
    assert.equal(made.status, 201, JSON.stringify(made.body));
  }
  const owner = await signIn(edgeA, 'susp', 'owner', ownerPassword);
  const viewer = await call(edgeA, 'POST', '/users', { username: 'viewer', email: 'viewer@susp.example', password: viewerPassword, roles: ['viewer'] }, owner.access);
  assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
});
after(async () => {
  await t.close();
});

describe('suspending and reactivating a tenant', () => {
  test('only a platform administrator may; the platform tenant itself never; an unknown tenant is not found', async () => {
    const other = await signIn(edgeA, 'other', 'owner', otherPassword);
    assert.equal((await call(edgeA, 'POST', '/tenants/susp/suspend', {}, other.access)).status, 403);
    assert.equal((await call(edgeA, 'PATCH', '/tenants/susp', { max_users: 50 }, other.access)).status, 403);
    const platform = await call(edgeA, 'POST', '/tenants/platform/suspend', {}, root);
    assert.equal(platform.status, 409);
    assert.equal(platform.body['code'], 'VGL_TENANT_STATE');
    assert.equal((await call(edgeA, 'POST', '/tenants/nosuch/suspend', {}, root)).status, 404);
    assert.equal((await call(edgeA, 'POST', '/tenants/susp/reactivate', undefined, root)).body['status'], 'active', 'not suspended: a no-op');
  });

  test('suspended: every session and API key of the tenant stops at every edge within a second, nothing signs in; reactivated: sign-in again, the old sessions stay ended, keys work again', async () => {
    const owner = await signIn(edgeA, 'susp', 'owner', ownerPassword);
    const viewer = await signIn(edgeB, 'susp', 'viewer', viewerPassword);
    const other = await signIn(edgeA, 'other', 'owner', otherPassword);
    const made = await call(edgeA, 'POST', '/api-keys', { name: 'k', permissions: ['profile:self'], expires_at: new Date(Date.now() + 86_400_000).toISOString(), rate_limit_per_minute: 1000 }, owner.access);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = text(made.body['key']);
    for (const credential of [owner.access, viewer.access, key]) assert.equal(await status(edgeB, credential), 200);

    const suspended = await call(edgeA, 'POST', '/tenants/susp/suspend', { reason: 'contract ended' }, root);
    assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
    assert.equal(suspended.body['status'], 'suspended');
    const suspendedAt = Date.now();
    assert.equal(await status(edgeA, owner.access), 401, 'at once on the edge that suspended it');
    for (const credential of [owner.access, viewer.access, key]) assert.ok((await within(1000, async () => (await status(edgeB, credential)) === 401)) < 1000);
    assert.equal((await call(edgeA, 'POST', '/auth/login', { tenant: 'susp', username: 'owner', password: ownerPassword })).status, 401, 'no sign-in');
    assert.equal((await call(edgeB, 'POST', '/auth/refresh', { refresh_token: owner.refresh })).status, 401, 'no refresh');
    assert.equal(await status(edgeB, other.access), 200, 'another tenant goes on');

    // Access tokens carry their issue time in whole seconds: a suspension and a reactivation in the same second would
    // also refuse a token issued just after the reactivation. Waiting for the next second keeps this test exact.
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (suspendedAt % 1000)) + 1));
    // Suspending again is a no-op, and keeps the first suspension's time: an edge that took the time of the no-op as
    // the suspension's refused the tokens of the sign-in below, made in that same second after the reactivation.
    const noop = await call(edgeA, 'POST', '/tenants/susp/suspend', {}, root);
    assert.equal(noop.status, 200, 'again: a no-op');
    assert.equal(noop.body['suspended_at'], suspended.body['suspended_at'], 'the time of the suspension, not of the no-op');
    assert.ok(Date.parse(text(suspended.body['suspended_at'])) <= suspendedAt);
    const reactivated = await call(edgeB, 'POST', '/tenants/susp/reactivate', undefined, root);
    assert.equal(reactivated.status, 200, JSON.stringify(reactivated.body));
    assert.equal(reactivated.body['status'], 'active');
    assert.equal(reactivated.body['suspended_at'], undefined, 'active: no suspension time');
    const again = await signIn(edgeB, 'susp', 'owner', ownerPassword);
    assert.equal(await status(edgeB, again.access), 200, 'a new session works at once on the edge that reactivated');
    await within(1000, async () => (await status(edgeA, again.access)) === 200);
    await within(1000, async () => (await status(edgeA, key)) === 200);
    for (const url of [edgeA, edgeB]) {
      assert.equal(await status(url, owner.access), 401, 'a token of before the suspension stays refused');
      assert.equal(await status(url, viewer.access), 401);
    }
    assert.equal((await call(edgeA, 'POST', '/auth/refresh', { refresh_token: viewer.refresh })).status, 401, 'a session of before does not refresh');
    const { events } = await loadAggregate(t.testBus.bus, `auth.susp.session.${viewer.session}`);
    assert.deepEqual(events.at(-1)?.event.data, { reason: 'tenant_suspended' }, 'and is revoked when it tries');
    const listed = await call(edgeA, 'GET', '/auth/sessions', undefined, again.access);
    const ids = (Array.isArray(listed.body['sessions']) ? listed.body['sessions'] : []).map((s: unknown) => (typeof s === 'object' && s !== null && 'id' in s ? s.id : undefined));
    assert.deepEqual(ids, [again.session], 'my sessions: only the one started after the reactivation');

    const audit = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.tenant_status_changed');
    assert.deepEqual(
      audit.map((e) => [e.tenant, e.data['tenant_id'], e.data['status'], e.data['reason']]),
      [
        ['susp', 'susp', 'suspended', 'contract ended'],
        ['susp', 'susp', 'active', undefined],
      ],
    );
  });
});

describe('quotas', () => {
  test('a platform administrator changes a tenant’s quotas; users and API keys are refused beyond them; audited', async () => {
    const patched = await call(edgeA, 'PATCH', '/tenants/other', { max_users: 2, max_api_keys: 1, max_devices: 7 }, root);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body, { tenant_id: 'other', name: 'other', status: 'active', max_users: 2, max_api_keys: 1, max_devices: 7, users: 1, plan: 'enterprise', features: ['api_keys', 'devices', 'audit_api', 'custom_roles'] });
    assert.equal((await call(edgeA, 'PATCH', '/tenants/other', {}, root)).status, 400, 'at least one quota');
    assert.equal((await call(edgeA, 'PATCH', '/tenants/other', { max_users: 0 }, root)).status, 400);
    const owner = await signIn(edgeA, 'other', 'owner', otherPassword);
    const user = (name: string) => call(edgeA, 'POST', '/users', { username: name, email: `${name}@other.example`, roles: ['viewer'] }, owner.access);
    assert.equal((await user('second')).status, 201);
    const third = await user('third');
    assert.equal(third.status, 409);
    assert.equal(third.body['code'], 'VGL_QUOTA_EXCEEDED');
    const key = () => call(edgeA, 'POST', '/api-keys', { name: 'k', permissions: ['profile:self'], expires_at: new Date(Date.now() + 86_400_000).toISOString(), rate_limit_per_minute: 10 }, owner.access);
    assert.equal((await key()).status, 201);
    assert.equal((await key()).body['code'], 'VGL_API_KEY_QUOTA_EXCEEDED');
    assert.equal((await call(edgeA, 'PATCH', '/tenants/other', { max_users: 3, max_api_keys: 2 }, root)).status, 200);
    assert.equal((await user('third')).status, 201);
    assert.equal((await key()).status, 201);
    const audit = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.tenant_quota_changed');
    assert.deepEqual(
      audit.map((e) => e.data),
      [
        { category: 'administration', severity: 'notice', tenant_id: 'other', max_users: 2, max_api_keys: 1, max_devices: 7 },
        { category: 'administration', severity: 'notice', tenant_id: 'other', max_users: 3, max_api_keys: 2 },
      ],
    );
  });
});

async function recorded(name: string): Promise<{ type: string; tenant: unknown; data: Record<string, unknown> }[]> {
  return (await storedMessages(t.testBus.bus, name)).flatMap((line) => {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string' && 'data' in v && typeof v.data === 'object' && v.data !== null
      ? [{ type: v.type, tenant: 'tenant' in v ? v.tenant : undefined, data: Object.fromEntries(Object.entries(v.data)) }]
      : [];
  });
}
