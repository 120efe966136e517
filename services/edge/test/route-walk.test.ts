// Walks every route of the edge as `buildEdge` registers them (so routes added later are walked too), against the
// whole of Vigil: the workers run as `pnpm start` runs them (services/vigil, a child process on this test's NATS), and
// the edge under test is built here. For every route it asserts:
//   1. it declares a permission the identity contract knows, or that it is public;
//   2. without credentials (or with a bad or unknown one) it answers 401, if it is not public;
//   3. it is in the table below, which says who may call it and, for a route of a tenant, how to aim it at tenant A's
//      resources; called with tenant B's session and with tenant B's API key it answers 403 or 404 when it names A's
//      resources, never shows anything of A's, and changes nothing of A's on any stream.
// A new route fails this test until it has an entry in `routeTable`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Bus } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { isPermission, rolePermissions } from '@vigil/identity-contract';
import { StreamName } from '@vigil/schemas';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { buildEdge } from '../src/index.ts';
import { isRecord } from './harness.ts';

// ---------------------------------------------------------------------------------------------------------------
// The table: every route of the edge, by `METHOD /path` as registered.
// ---------------------------------------------------------------------------------------------------------------

/**
 * - `public`: anyone (declares `config.public`, or is swagger-ui's own files under /docs).
 * - `self`: acts only on the caller's own account; nothing in the request can name another user's resource.
 * - `tenant`: a resource of the caller's tenant, named in the request or listed/made by it: `probe` aims it at tenant
 *   A's resources (ids in params, a tenant in the query, ...).
 * - `platform`: only callers of the platform tenant (tenant B's owner gets 403).
 */
type Access = 'public' | 'self' | 'tenant' | 'platform';

/** What to send besides the credentials: params replace `:name` in the path. */
interface Probe {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

interface RouteCase {
  readonly access: Access;
  /** For `self` and `tenant` routes: the request, with tenant A's ids where the route takes ids. */
  readonly probe?: (world: World) => Promise<Probe> | Probe;
  /**
   * The path names something within the caller's own tenant (a role name), not a resource of A's: B's request acts
   * on B's, so it may succeed; A's streams must still be untouched and nothing of A's shown.
   */
  readonly namesOwn?: true;
}

const day = 86_400_000;
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();
const now = () => new Date().toISOString();

const routeTable: Readonly<Record<string, RouteCase>> = {
  // Operations and sign-in.
  'GET /health/live': { access: 'public' },
  'GET /health/ready': { access: 'public' },
  'GET /health/detailed': { access: 'public' },
  'GET /metrics': { access: 'public' },
  'GET /openapi.json': { access: 'public' },
  'POST /auth/login': { access: 'public' },
  'POST /auth/mfa/verify': { access: 'public' },
  'POST /auth/refresh': { access: 'public' },
  'GET /.well-known/jwks.json': { access: 'public' },
  'POST /invitations/accept': { access: 'public' },

  // My own account.
  'POST /auth/logout': { access: 'self', probe: () => ({}) },
  'GET /auth/sessions': { access: 'self', probe: () => ({}) },
  'POST /auth/mfa/enroll': { access: 'self', probe: () => ({}) },
  'POST /auth/mfa/confirm': { access: 'self', probe: () => ({ body: { code: '000000' } }) },
  'POST /auth/mfa/disable': { access: 'self', probe: () => ({ body: { current_password: 'not the current pass phrase', code: '000000' } }) },
  'POST /auth/mfa/recovery-codes': { access: 'self', probe: () => ({ body: { current_password: 'not the current pass phrase', recovery_code: 'aaaa-bbbb-cccc-dddd' } }) },
  'POST /auth/password': { access: 'self', probe: () => ({ body: { current_password: 'not the current pass phrase', new_password: 'a brand new long pass phrase' } }) },
  'POST /api-keys': {
    access: 'self',
    probe: () => ({ body: { name: 'walker', permissions: ['profile:self'], expires_at: new Date(Date.now() + day).toISOString(), rate_limit_per_minute: 10 } }),
  },

  // Identity resources of a tenant.
  'GET /api-keys': { access: 'tenant', probe: () => ({ query: { all: 'true' } }) },
  'DELETE /api-keys/:id': { access: 'tenant', probe: (w) => ({ params: { id: w.a.apiKeyId } }) },
  'DELETE /auth/sessions/:id': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerSessionId } }) },
  'POST /users': { access: 'tenant', probe: () => ({ body: { username: 'intruder', email: 'intruder@b.example', roles: ['viewer'] } }) },
  'GET /users': { access: 'tenant', probe: () => ({ query: { limit: '1000' } }) },
  'DELETE /users/:id': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerId } }) },
  'POST /users/:id/restore': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerId } }) },
  'POST /users/:id/disable': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerId }, body: { reason: 'walk' } }) },
  'POST /users/:id/unlock': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerId } }) },
  'POST /users/:id/roles': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerId }, body: { role: 'operator' } }) },
  'DELETE /users/:id/roles/:role': { access: 'tenant', probe: (w) => ({ params: { id: w.a.viewerId, role: 'viewer' } }) },
  'POST /invitations': { access: 'tenant', probe: () => ({ body: { email: 'invited@b.example', roles: ['viewer'] } }) },
  'GET /invitations': { access: 'tenant', probe: () => ({ query: { limit: '1000' } }) },
  'DELETE /invitations/:id': { access: 'tenant', probe: (w) => ({ params: { id: w.a.invitationId } }) },
  'GET /roles': { access: 'tenant', probe: () => ({}) },
  'PUT /roles/:role': { access: 'tenant', namesOwn: true, probe: (w) => ({ params: { role: w.a.customRole }, body: { permissions: ['devices:read'] } }) },
  'DELETE /roles/:role': { access: 'tenant', namesOwn: true, probe: (w) => ({ params: { role: w.a.customRole } }) },
  'POST /tenants': { access: 'platform' },
  'POST /tenants/:id/suspend': { access: 'platform' },
  'POST /tenants/:id/reactivate': { access: 'platform' },
  'PATCH /tenants/:id': { access: 'platform' },
  'PUT /tenants/:id/plan': { access: 'platform' },

  // The audit trail: only the platform tenant may name another tenant.
  'GET /audit/events': { access: 'tenant', probe: (w) => ({ query: { tenant: w.a.tenant } }) },

  // Devices and their telemetry.
  'POST /devices': { access: 'tenant', probe: () => ({ body: { name: 'intruder', device_type: 'lamp', serial: 'WALK-B-1' } }) },
  'GET /devices': { access: 'tenant', probe: () => ({}) },
  'GET /devices/:device_id': { access: 'tenant', probe: async (w) => ({ params: { device_id: (await w.device()).deviceId } }) },
  'POST /devices/:device_id/credentials': { access: 'tenant', probe: async (w) => ({ params: { device_id: (await w.device()).deviceId }, body: { kind: 'secret' } }) },
  'DELETE /devices/:device_id/credentials/:credential_id': {
    access: 'tenant',
    probe: async (w) => {
      const d = await w.device();
      return { params: { device_id: d.deviceId, credential_id: d.credentialId } };
    },
  },
  'POST /devices/:device_id/decommission': { access: 'tenant', probe: async (w) => ({ params: { device_id: (await w.device()).deviceId }, body: {} }) },
  'POST /devices/:device_id/commands': { access: 'tenant', probe: async (w) => ({ params: { device_id: (await w.device()).deviceId }, body: { name: 'reboot' } }) },
  'GET /devices/:device_id/readings': { access: 'tenant', probe: async (w) => ({ params: { device_id: (await w.device()).deviceId }, query: { from: hourAgo(), to: now(), limit: '100' } }) },
  'GET /devices/:device_id/series': {
    access: 'tenant',
    probe: async (w) => ({ params: { device_id: (await w.device()).deviceId }, query: { metric: 'temperature', from: hourAgo(), to: now(), bucket_s: '60' } }),
  },

  // The KME topology serves every tenant: platform administrators only.
  'GET /kme/topology': { access: 'platform' },
  'PUT /kme/topology': { access: 'platform' },
  'DELETE /kme/saes/:sae_id': { access: 'platform' },
};

// ---------------------------------------------------------------------------------------------------------------
// The world: Vigil running, two tenants made through the API.
// ---------------------------------------------------------------------------------------------------------------

interface TenantWorld {
  readonly tenant: string;
  readonly ownerPassword: string;
  readonly viewerId: string;
  readonly viewerSessionId: string;
  readonly apiKeyId: string;
  /** A pending invitation of this tenant's. */
  readonly invitationId: string;
  /** A custom role of this tenant's (its name is the tenant's own: another tenant's path names its own role). */
  readonly customRole: string;
  /** An API key of the owner's with every permission the owner has. */
  readonly ownerKey: string;
  /** Every id of this tenant's resources the walk made (and its invitee's e-mail address): none may show up in the other tenant's answers. */
  readonly ids: string[];
}

interface World {
  readonly a: TenantWorld;
  readonly b: TenantWorld;
  /** A device of tenant A with a credential, made on first use. */
  device(): Promise<{ deviceId: string; credentialId: string }>;
}

let testBus: TestBus;
let edgeBus: Bus;
let app: FastifyInstance;
let vigil: ChildProcess | undefined;
let vigilOutput = '';
let dataDir: string;
let world: World;
const rootPassword = 'the platform admin pass phrase';
/** Route options as fastify resolved them, captured by a root hook as each route is first called. */
const seen = new Map<string, { permission?: string; public?: boolean; hidden: boolean }>();

interface Answer {
  readonly status: number;
  readonly body: string;
  json(): Record<string, unknown>;
}

async function send(method: HTTPMethods, url: string, options: { token?: string; apiKey?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  if (options.apiKey) headers['x-api-key'] = options.apiKey;
  const withBody = options.body !== undefined && method !== 'GET' && method !== 'HEAD';
  if (withBody) headers['content-type'] = 'application/json';
  const res = await app.inject({ method, url, headers, ...(withBody ? { payload: JSON.stringify(options.body) } : {}) });
  return {
    status: res.statusCode,
    body: res.body,
    json() {
      const v: unknown = JSON.parse(res.body);
      assert.ok(isRecord(v), `${method} ${url}: not a JSON object: ${res.body.slice(0, 200)}`);
      return v;
    },
  };
}

const text = (v: unknown, what: string): string => {
  assert.equal(typeof v, 'string', `${what}: ${JSON.stringify(v)}`);
  return String(v);
};

async function signIn(tenant: string, username: string, password: string): Promise<{ token: string; sessionId: string }> {
  const res = await send('POST', '/auth/login', { body: { tenant, username, password } });
  assert.equal(res.status, 200, `sign in ${tenant}/${username}: ${res.body}`);
  const body = res.json();
  return { token: text(body['access_token'], 'access_token'), sessionId: text(body['session_id'], 'session_id') };
}

async function makeTenant(root: string, tenant: string): Promise<TenantWorld> {
  const ownerPassword = `the boss of ${tenant} has a long phrase`;
  const made = await send('POST', '/tenants', { token: root, body: { tenant_id: tenant, name: tenant, owner: { username: 'owner', email: `owner@${tenant}.example`, password: ownerPassword } } });
  assert.equal(made.status, 201, made.body);
  const ownerId = text(made.json()['owner_user_id'], 'owner_user_id');
  const owner = await signIn(tenant, 'owner', ownerPassword);
  const viewerPassword = `someone at ${tenant} with a long phrase`;
  const viewer = await send('POST', '/users', { token: owner.token, body: { username: 'viewer', email: `viewer@${tenant}.example`, password: viewerPassword, roles: ['viewer'] } });
  assert.equal(viewer.status, 201, viewer.body);
  const viewerId = text(viewer.json()['user_id'], 'user_id');
  const viewerSession = await signIn(tenant, 'viewer', viewerPassword);
  const expires = new Date(Date.now() + day).toISOString();
  const key = await send('POST', '/api-keys', { token: owner.token, body: { name: 'owner key', permissions: [...rolePermissions.owner], expires_at: expires, rate_limit_per_minute: 100_000 } });
  assert.equal(key.status, 201, key.body);
  const keyBody = key.json();
  const apiKeyId = text(keyBody['id'], 'id');
  const invitation = await send('POST', '/invitations', { token: owner.token, body: { email: `invited@${tenant}.example`, roles: ['operator'] } });
  assert.equal(invitation.status, 201, invitation.body);
  const invitationId = text(invitation.json()['invitation_id'], 'invitation_id');
  const customRole = `ops_${tenant.replace(/[^a-z0-9]/g, '_')}`;
  const role = await send('PUT', `/roles/${customRole}`, { token: owner.token, body: { permissions: ['devices:read'] } });
  assert.equal(role.status, 201, role.body);
  return {
    tenant,
    ownerPassword,
    viewerId,
    viewerSessionId: viewerSession.sessionId,
    apiKeyId,
    invitationId,
    customRole,
    ownerKey: text(keyBody['key'], 'key'),
    ids: [ownerId, viewerId, viewerSession.sessionId, owner.sessionId, apiKeyId, invitationId, `invited@${tenant}.example`, customRole],
  };
}

/** Starts every Vigil service but the edge under test, as `pnpm start` does, on this test's NATS and namespace. */
async function startVigil(): Promise<void> {
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-walk-'));
  const passwordFile = join(dataDir, 'admin-password');
  await writeFile(passwordFile, rootPassword);
  const root = join(import.meta.dirname, '..', '..', '..');
  vigil = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', 'vigil', 'src', 'main.ts')], {
    cwd: root,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      NATS_URL: testBus.nats.url,
      VIGIL_NAMESPACE: testBus.bus.names.namespace,
      VIGIL_DATA_DIR: join(dataDir, 'data'),
      VIGIL_HTTP_PORT: '0',
      VIGIL_ETSI_PORT: '0',
      VIGIL_MQTT_PORT: '0',
      VIGIL_AUTH_RATE_LIMIT: '100000',
      VIGIL_USER_RATE_LIMIT: '100000',
      VIGIL_BOOTSTRAP_ADMIN: 'root',
      VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE: passwordFile,
      LOG_LEVEL: 'warn',
      // No DATABASE_URL: its own PGlite under the temporary data directory, shared with no other test.
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  vigil.stdout?.on('data', (c: Buffer) => (vigilOutput += c.toString('utf8')));
  vigil.stderr?.on('data', (c: Buffer) => (vigilOutput += c.toString('utf8')));
  const deadline = Date.now() + 100_000;
  for (;;) {
    if (vigil.exitCode !== null) throw new Error(`Vigil stopped (${vigil.exitCode}):\n${vigilOutput}`);
    const res = await send('POST', '/auth/login', { body: { tenant: 'platform', username: 'root', password: rootPassword } });
    if (res.status === 200) return;
    if (Date.now() > deadline) throw new Error(`Vigil not ready in time (last answer ${res.status}):\n${vigilOutput}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  testBus = await startTestBus();
  edgeBus = await testBus.connect('edge');
  const config = loadConfig({ VIGIL_HTTP_PORT: '0', VIGIL_NAMESPACE: testBus.bus.names.namespace, VIGIL_AUTH_RATE_LIMIT: '100000', VIGIL_USER_RATE_LIMIT: '100000' });
  app = await buildEdge({ config, bus: edgeBus, logger: testLogger('edge'), version: '0.0.0-walk' });
  // Root hooks apply to routes registered before them: each route's resolved options, as it is called.
  app.addHook('onRequest', async (request) => {
    const options = request.routeOptions;
    if (options.url === undefined) return;
    const config = options.config;
    seen.set(`${request.method} ${options.url}`, { ...(config.permission ? { permission: config.permission } : {}), ...(config.public ? { public: true } : {}), hidden: options.schema?.hide === true });
  });
  await app.ready();
  await startVigil();
  const root = (await signIn('platform', 'root', rootPassword)).token;
  const a = await makeTenant(root, 'walk-alpha');
  const b = await makeTenant(root, 'walk-bravo');
  let device: Promise<{ deviceId: string; credentialId: string }> | undefined;
  world = {
    a,
    b,
    device() {
      device ??= (async () => {
        const owner = await signIn(a.tenant, 'owner', a.ownerPassword);
        const made = await send('POST', '/devices', { token: owner.token, body: { name: 'lamp 1', device_type: 'lamp', serial: 'WALK-A-1' } });
        assert.equal(made.status, 201, made.body);
        const deviceId = text(made.json()['device_id'], 'device_id');
        const credential = await send('POST', `/devices/${deviceId}/credentials`, { token: owner.token, body: { kind: 'secret' } });
        assert.equal(credential.status, 201, credential.body);
        const credentialId = text(credential.json()['credential_id'], 'credential_id');
        a.ids.push(deviceId, credentialId);
        return { deviceId, credentialId };
      })();
      return device;
    },
  };
});

after(async () => {
  if (vigil && vigil.exitCode === null) {
    const exited = new Promise((r) => vigil?.once('exit', r));
    vigil.kill('SIGTERM');
    await exited;
  }
  await app?.close();
  await testBus?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// The routes, as registered.
// ---------------------------------------------------------------------------------------------------------------

interface Route {
  readonly method: HTTPMethods;
  readonly url: string;
}

/** Every (method, path) of the router, from `printRoutes` (a tree: each line adds its segment to its parent's path). */
function registeredRoutes(): Route[] {
  const routes: Route[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = Math.round((m[1] ?? '').length / 4);
    const url = `${depth > 0 ? (prefixes[depth - 1] ?? '') : ''}${m[2] ?? ''}`;
    prefixes[depth] = url;
    prefixes.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
      const known = (['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const).find((x) => x === method);
      assert.ok(known, `unexpected method ${method} in: ${line}`);
      routes.push({ method: known, url });
    }
  }
  return routes;
}

const key = (r: Route) => `${r.method} ${r.url}`;
/** HEAD routes are fastify's copies of GET routes: the same hooks, so the GET entry answers for them. */
const caseOf = (r: Route): RouteCase | undefined => routeTable[`${r.method === 'HEAD' ? 'GET' : r.method} ${r.url}`];
const placeholder = '01890a5d-ac96-774b-bcce-b302099a8057';

function pathOf(url: string, probe: Probe = {}): string {
  const path = url.replace(/:([A-Za-z_]+)/g, (_, name: string) => encodeURIComponent(probe.params?.[name] ?? placeholder)).replace(/\*$/, 'x');
  const query = new URLSearchParams(probe.query ?? {}).toString();
  return query ? `${path}?${query}` : path;
}

/** How many messages each subject of a tenant holds, on every stream but AUDIT (records of what was refused). */
async function tenantSubjects(tenant: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const s of testBus.bus.streams) {
    if (s.name === StreamName.Audit) continue;
    const info = await testBus.bus.jsm.streams.info(testBus.bus.names.stream(s.name), { subjects_filter: testBus.bus.names.subject(`*.${tenant}.>`) });
    Object.assign(counts, info.state.subjects ?? {});
  }
  return counts;
}

describe('every route of the edge', () => {
  let routes: Route[];
  before(() => {
    routes = registeredRoutes();
  });

  test('the walk sees every route: all those the OpenAPI document lists, and these known ones', async () => {
    const doc = (await send('GET', '/openapi.json')).json();
    const paths = doc['paths'];
    assert.ok(isRecord(paths));
    const walked = new Set(routes.map(key));
    for (const [path, item] of Object.entries(paths)) {
      assert.ok(isRecord(item));
      for (const method of Object.keys(item)) {
        const url = path.replace(/\{([^}]+)\}/g, ':$1');
        assert.ok(walked.has(`${method.toUpperCase()} ${url}`), `${method.toUpperCase()} ${url} is documented but the walk does not see it`);
      }
    }
    for (const k of ['POST /auth/login', 'GET /api-keys', 'DELETE /users/:id/roles/:role', 'GET /health/live']) assert.ok(walked.has(k), k);
  });

  test('the OpenAPI document names the permission of every route that needs one', async () => {
    const paths = (await send('GET', '/openapi.json')).json()['paths'];
    assert.ok(isRecord(paths));
    for (const route of routes) {
      if (route.method === 'HEAD' || route.url === '/docs' || route.url.startsWith('/docs/')) continue;
      const item: unknown = paths[route.url.replace(/:([A-Za-z_]+)/g, '{$1}')];
      const operation: unknown = isRecord(item) ? item[route.method.toLowerCase()] : undefined;
      assert.ok(isRecord(operation), `${key(route)} is documented`);
      const access = caseOf(route)?.access;
      if (access === 'public') assert.equal(operation['x-permission'], undefined, key(route));
      else assert.ok(typeof operation['x-permission'] === 'string' && isPermission(operation['x-permission']), `${key(route)} documents its permission`);
    }
  });

  test('every route is in the route table (add an entry for a new route: who may call it, how to aim it at tenant A)', () => {
    const missing = routes.filter((r) => r.url !== '/docs' && !r.url.startsWith('/docs/') && !caseOf(r)).map(key);
    assert.deepEqual(missing, [], `routes missing from routeTable in ${import.meta.filename}`);
    const registered = new Set(routes.map(key));
    const stale = Object.keys(routeTable).filter((k) => !registered.has(k));
    assert.deepEqual(stale, [], 'routeTable entries for routes that no longer exist');
  });

  test('every route declares a permission the contract knows, or that it is public; non-public ones answer 401 without valid credentials', async () => {
    const unknownKey = `vgl_${placeholder}_${'A'.repeat(43)}`;
    for (const route of routes) {
      // swagger-ui's own files (hidden from the API description, some answered before any hook of ours runs).
      if (route.url === '/docs' || route.url.startsWith('/docs/')) continue;
      const path = pathOf(route.url);
      const bare = await send(route.method, path);
      const options = seen.get(key(route));
      assert.ok(options, `${key(route)}: the walk could not reach it`);
      assert.equal(options.hidden, false, `${key(route)} is hidden from the API description: only swagger-ui's files under /docs may be`);
      const declared = caseOf(route)?.access;
      if (options.public) {
        assert.equal(options.permission, undefined, `${key(route)} is public and declares a permission`);
        assert.equal(declared, 'public', `${key(route)} is public; the table says ${declared}`);
        continue;
      }
      assert.ok(options.permission, `${key(route)} declares neither a permission nor public access`);
      assert.ok(isPermission(options.permission), `${key(route)}: ${options.permission} is not a permission of the identity contract`);
      assert.notEqual(declared, 'public', `${key(route)} needs ${options.permission}; the table says public`);
      assert.equal(bare.status, 401, `${key(route)} without credentials`);
      const bad: [string, string][] = [
        ['authorization', 'Bearer not.a.token'],
        ['authorization', 'Basic cm9vdDpyb290'],
        ['x-api-key', unknownKey],
        ['authorization', `Bearer ${unknownKey}`],
      ];
      for (const [header, value] of bad) {
        assert.equal((await send(route.method, path, { headers: { [header]: value } })).status, 401, `${key(route)} with ${header}: ${value.slice(0, 12)}…`);
      }
    }
  });

  test('with tenant B’s session or API key, no route shows or changes anything of tenant A’s', { timeout: 300_000 }, async () => {
    const { a, b } = world;
    const aStrings = () => [a.tenant, ...a.ids];
    const rootToken = (await signIn('platform', 'root', rootPassword)).token;
    await world.device();
    const subjectsOfA = Object.keys(await tenantSubjects(a.tenant));
    for (const aggregate of ['tenant', 'user', 'session', 'apikey', 'invitation', 'roles']) assert.ok(subjectsOfA.some((s) => s.includes(`.${aggregate}.`)), `the snapshot of A sees its ${aggregate} subjects`);
    assert.ok(subjectsOfA.some((s) => s.includes('device')), 'the snapshot of A sees its device subjects');
    for (const route of routes) {
      const entry = caseOf(route);
      if (!entry || route.method === 'HEAD' || entry.access === 'public') continue;
      const name = key(route);
      if (entry.access === 'platform') {
        const owner = await signIn(b.tenant, 'owner', b.ownerPassword);
        assert.equal((await send(route.method, pathOf(route.url), { token: owner.token, body: {} })).status, 403, `${name}: tenant B's owner`);
        assert.equal((await send(route.method, pathOf(route.url), { apiKey: b.ownerKey, body: {} })).status, 403, `${name}: tenant B's API key`);
        if (route.method === 'GET') assert.equal((await send(route.method, pathOf(route.url), { token: rootToken })).status, 200, `${name}: the platform administrator`);
        continue;
      }
      assert.ok(entry.probe, `${name}: a ${entry.access} route needs a probe in routeTable`);
      const probe = await entry.probe(world);
      const namesA = route.url.includes(':') && entry.namesOwn !== true;
      for (const as of ['session', 'api key'] as const) {
        // A fresh session each time: a probe may end it (logout) or change it.
        const credentials = as === 'session' ? { token: (await signIn(b.tenant, 'owner', b.ownerPassword)).token } : { apiKey: b.ownerKey };
        const before = await tenantSubjects(a.tenant);
        const path = pathOf(route.url, probe);
        const res = await send(route.method, path, { ...credentials, ...(probe.body === undefined ? {} : { body: probe.body }) });
        const after = await tenantSubjects(a.tenant);
        assert.ok(res.status < 500, `${name} as B's ${as}: ${res.status} ${res.body.slice(0, 300)}`);
        if (namesA) assert.ok([403, 404].includes(res.status), `${name} as B's ${as}, aimed at A's resources: ${res.status} ${res.body.slice(0, 300)}`);
        // What B sent may be echoed ("no device <id>"); anything else of A's may not appear.
        const asked = `${path} ${JSON.stringify(probe.body ?? null)}`;
        for (const s of aStrings().filter((x) => !asked.includes(x))) assert.ok(!res.body.includes(s), `${name} as B's ${as} answers with A's ${s}: ${res.body.slice(0, 300)}`);
        assert.deepEqual(after, before, `${name} as B's ${as} changed tenant A's streams`);
      }
    }
  });
});
