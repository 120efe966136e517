// Custom roles, tenant plans and the per-user rate limit, end to end: real HTTP clients, two edges, one worker, real
// NATS. A role change or a plan change made at one edge applies at the other within a second, tokens unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, within, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
const phrase = (name: string) => `a long enough pass phrase, ${[...name].reverse().join('')}`;
let root: string;
let olive: string;
let adam: string;

async function signIn(tenant: string, username: string, url = edgeA): Promise<string> {
  const res = await call(url, 'POST', '/auth/login', { tenant, username, password: phrase(username) });
  assert.equal(res.status, 200, `${username}: ${JSON.stringify(res.body)}`);
  return text(res.body['access_token']);
}

async function createUser(username: string, roles: string[], token = olive): Promise<{ status: number; body: Record<string, unknown> }> {
  return call(edgeA, 'POST', '/users', { username, email: `${username}@corp.example`, password: phrase(username), roles }, token);
}

const expiresIn = (ms: number) => new Date(Date.now() + ms).toISOString();

before(async () => {
  t = await startIdentity();
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  await t.worker.bootstrapAdmin('root', 'root@platform.example', phrase('root'));
  root = await signIn('platform', 'root');
  const created = await call(edgeA, 'POST', '/tenants', { tenant_id: 'corp', name: 'Corp', plan: 'enterprise', owner: { username: 'olive', email: 'olive@corp.example', password: phrase('olive') } }, root);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  olive = await signIn('corp', 'olive');
  assert.equal((await createUser('adam', ['admin'])).status, 201);
  adam = await signIn('corp', 'adam');
});

after(async () => {
  await t?.close();
});

describe('custom roles', () => {
  test('an owner defines a role; a user holding it may do what it grants, and nothing else', async () => {
    const granted = ['users:read', 'devices:read', 'api_keys:create', 'profile:self'];
    const defined = await call(edgeA, 'PUT', '/roles/field_tech', { permissions: granted, description: 'Technicians in the field' }, olive);
    assert.equal(defined.status, 201, JSON.stringify(defined.body));
    assert.equal(defined.body['change'], 'defined');
    assert.equal((await call(edgeA, 'PUT', '/roles/field_tech', { permissions: [...granted].reverse(), description: 'Technicians in the field' }, olive)).body['change'], 'unchanged');
    const list = await call(edgeB, 'GET', '/roles', undefined, olive);
    assert.equal(list.status, 200);
    const roles = list.body['roles'];
    assert.ok(Array.isArray(roles));
    const names = roles.map((r: unknown) => (typeof r === 'object' && r !== null && 'role' in r ? r.role : undefined));
    assert.deepEqual(names, ['owner', 'admin', 'operator', 'auditor', 'viewer', 'field_tech'], 'built-in first (no platform_admin outside the platform), then custom');

    assert.equal((await createUser('tess', ['field_tech'], adam)).status, 201, 'an admin holds both permissions, so may grant the role');
    const tess = await signIn('corp', 'tess');
    assert.equal((await call(edgeB, 'GET', '/users', undefined, tess)).status, 200);
    const denied = await call(edgeB, 'POST', '/users', { username: 'nope', email: 'nope@corp.example', password: phrase('nope'), roles: ['viewer'] }, tess);
    assert.equal(denied.status, 403);
    assert.equal(denied.body['code'], 'VGL_FORBIDDEN');
    assert.equal((await createUser('ghost_user', ['no_such_role'])).status, 404, 'an unknown role cannot be given');
  });

  test('no escalation: an admin cannot put audit:read in a role, no tenant may mint a platform permission, built-in names are taken', async () => {
    const beyond = await call(edgeA, 'PUT', '/roles/peek', { permissions: ['audit:read'] }, adam);
    assert.equal(beyond.status, 403);
    assert.match(String(beyond.body['detail'] ?? beyond.body['message'] ?? ''), /audit:read/);
    assert.equal((await call(edgeA, 'PUT', '/roles/minter', { permissions: ['tenants:create'] }, olive)).status, 403);
    assert.equal((await call(edgeA, 'PUT', '/roles/admin', { permissions: ['devices:read'] }, olive)).status, 409);
    const viewer = await (async () => {
      assert.equal((await createUser('vic', ['viewer'])).status, 201);
      return signIn('corp', 'vic');
    })();
    assert.equal((await call(edgeA, 'PUT', '/roles/mine', { permissions: ['devices:read'] }, viewer)).status, 403, 'roles:manage is needed');
  });

  test('cutting a role down applies at the other edge within a second, and revokes the holders’ API keys it no longer covers', async () => {
    const tess = await signIn('corp', 'tess');
    const key = await call(edgeA, 'POST', '/api-keys', { name: 'tess users', permissions: ['users:read'], expires_at: expiresIn(86_400_000), rate_limit_per_minute: 1000 }, tess);
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const apiKey = text(key.body['key']);
    assert.equal((await call(edgeB, 'GET', '/users', undefined, apiKey)).status, 200);

    const changed = await call(edgeA, 'PUT', '/roles/field_tech', { permissions: ['devices:read', 'api_keys:create', 'profile:self'], description: 'Technicians in the field' }, olive);
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body['change'], 'changed');
    const ms = await within(1000, async () => (await call(edgeB, 'GET', '/users', undefined, tess)).status === 403);
    t.logger.info({ ms }, 'custom role cut down: applied at the other edge');
    await within(1000, async () => (await call(edgeB, 'GET', '/users', undefined, apiKey)).status === 401);
  });

  test('a deleted role grants nothing any more, and its name is never reused', async () => {
    const tess = await signIn('corp', 'tess');
    assert.equal((await call(edgeB, 'GET', '/auth/sessions', undefined, tess)).status, 200);
    assert.equal((await call(edgeA, 'DELETE', '/roles/field_tech', undefined, adam)).status, 200);
    assert.equal((await call(edgeA, 'PUT', '/roles/field_tech', { permissions: ['devices:read'] }, olive)).status, 409);
    assert.equal((await call(edgeA, 'DELETE', '/roles/field_tech', undefined, olive)).status, 404);
    await within(1000, async () => (await call(edgeB, 'GET', '/auth/sessions', undefined, tess)).status === 403);
  });
});

describe('plans and feature flags', () => {
  test('essentials: API keys, custom roles and the audit API are refused at every edge at once, and come back with the plan', async () => {
    const key = await call(edgeA, 'POST', '/api-keys', { name: 'olive', permissions: ['users:read'], expires_at: expiresIn(86_400_000), rate_limit_per_minute: 1000 }, olive);
    assert.equal(key.status, 201);
    const apiKey = text(key.body['key']);

    const down = await call(edgeA, 'PUT', '/tenants/corp/plan', { plan: 'essentials' }, root);
    assert.equal(down.status, 200, JSON.stringify(down.body));
    assert.deepEqual(down.body['features'], []);
    await within(1000, async () => (await call(edgeB, 'GET', '/users', undefined, apiKey)).status === 403);
    const refused = await call(edgeB, 'POST', '/api-keys', { name: 'x', permissions: ['users:read'], expires_at: expiresIn(86_400_000), rate_limit_per_minute: 10 }, olive);
    assert.equal(refused.status, 403);
    assert.equal(refused.body['code'], 'VGL_FEATURE_NOT_IN_PLAN');
    assert.equal((await call(edgeB, 'PUT', '/roles/auditors2', { permissions: ['audit:read'] }, olive)).body['code'], 'VGL_FEATURE_NOT_IN_PLAN');
    assert.equal((await call(edgeB, 'GET', '/audit/events', undefined, olive)).body['code'], 'VGL_FEATURE_NOT_IN_PLAN');
    assert.equal((await call(edgeB, 'GET', '/devices', undefined, olive)).body['code'], 'VGL_FEATURE_NOT_IN_PLAN');
    assert.equal((await call(edgeB, 'GET', '/users', undefined, olive)).status, 200, 'identity itself is in every plan');

    const up = await call(edgeA, 'PUT', '/tenants/corp/plan', { plan: 'standard', features_enabled: ['custom_roles'] }, root);
    assert.deepEqual(up.body['features'], ['api_keys', 'devices', 'custom_roles']);
    await within(1000, async () => (await call(edgeB, 'GET', '/users', undefined, apiKey)).status === 200);
    assert.equal((await call(edgeB, 'PUT', '/roles/auditors2', { permissions: ['users:read'] }, olive)).status, 201);
    assert.equal((await call(edgeB, 'GET', '/audit/events', undefined, olive)).status, 403, 'audit_api is not in standard');
  });

  test('only platform administrators change plans; the platform tenant has none; a new tenant gets the named plan', async () => {
    assert.equal((await call(edgeA, 'PUT', '/tenants/corp/plan', { plan: 'enterprise' }, olive)).status, 403);
    assert.equal((await call(edgeA, 'PUT', '/tenants/platform/plan', { plan: 'essentials' }, root)).status, 409);
    const made = await call(edgeA, 'POST', '/tenants', { tenant_id: 'lite', name: 'Lite', plan: 'essentials', owner: { username: 'lena', email: 'lena@lite.example', password: phrase('lena') } }, root);
    assert.equal(made.status, 201);
    const lena = await signIn('lite', 'lena');
    const key = await call(edgeA, 'POST', '/api-keys', { name: 'x', permissions: ['users:read'], expires_at: expiresIn(86_400_000), rate_limit_per_minute: 10 }, lena);
    assert.equal(key.body['code'], 'VGL_FEATURE_NOT_IN_PLAN');
  });

  test('role and plan changes are on AUDIT with who made them', async () => {
    const audit = (await storedMessages(t.testBus.bus, StreamName.Audit)).join('\n');
    assert.match(audit, /audit\.auth\.custom_role_changed/);
    assert.match(audit, /"change":"deleted"/);
    assert.match(audit, /audit\.auth\.tenant_plan_changed/);
  });
});

describe('per-user rate limit', () => {
  test('a signed-in user over their requests per minute gets 429 with Retry-After; another user is not affected', async () => {
    const limited = (await t.edge({ VIGIL_USER_RATE_LIMIT: '5' })).url;
    for (let i = 0; i < 5; i++) assert.equal((await call(limited, 'GET', '/users', undefined, adam)).status, 200);
    const over = await call(limited, 'GET', '/users', undefined, adam);
    assert.equal(over.status, 429);
    assert.equal(over.body['code'], 'VGL_RATE_LIMITED');
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
    assert.equal((await call(limited, 'GET', '/users', undefined, olive)).status, 200, 'each user has their own budget');
    assert.equal((await call(edgeA, 'GET', '/users', undefined, adam)).status, 200, 'and each edge');
  });
});
