// GET /audit/events end to end: a real edge, the real identity service (tokens, RBAC, the events it records) and the
// audit service on real NATS and a real database. Two tenants, each with an owner and an auditor; acme also has a
// viewer. What each caller sees is compared with the audit_log table itself.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Bus } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { buildEdge } from '@vigil/edge';
import { identityService } from '@vigil/identity';
import type { StartedService } from '@vigil/runtime';
import { StreamName } from '@vigil/schemas';
import { readCheckpoint, schema, type Database } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus, testLogger, type TestBus, type TestDatabase } from '@vigil/testkit';
import { and, asc, eq, type SQL } from 'drizzle-orm';
import { chainHash, type ChainedRecord } from '../src/chain.ts';
import { auditProjection } from '../src/projection.ts';
import { createAuditService } from '../src/service.ts';

const { auditLog } = schema;

let testBus: TestBus;
let db: TestDatabase;
let identity: StartedService;
let audit: StartedService;
let edge: Awaited<ReturnType<typeof buildEdge>>;
let url: string;
let dataDir: string;

// The policy refuses a password that contains the username: the name is spelt backwards.
const password = (who: string) => `${[...who].reverse().join('')} keeps a long and unusual pass phrase`;
/** Access tokens and user ids by `<tenant>/<username>`. */
const tokens = new Map<string, string>();
const userIds = new Map<string, string>();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const parsed: unknown = JSON.parse(await res.text());
  assert.ok(isRecord(parsed));
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: parsed };
}

function tokenOf(who: string): string {
  const token = tokens.get(who);
  assert.ok(token, `a token for ${who}`);
  return token;
}

async function signIn(tenant: string, username: string): Promise<void> {
  const res = await call('POST', '/auth/login', undefined, { tenant, username, password: password(username) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const token = res.body['access_token'];
  assert.ok(typeof token === 'string');
  tokens.set(`${tenant}/${username}`, token);
}

async function createTenant(tenant: string, owner: string): Promise<void> {
  const res = await call('POST', '/tenants', tokenOf('platform/root'), { tenant_id: tenant, name: tenant, owner: { username: owner, email: `${owner}@${tenant}.example`, password: password(owner) } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  userIds.set(`${tenant}/${owner}`, String(res.body['owner_user_id']));
  await signIn(tenant, owner);
}

async function createUser(tenant: string, owner: string, username: string, role: string): Promise<void> {
  const res = await call('POST', '/users', tokenOf(`${tenant}/${owner}`), { username, email: `${username}@${tenant}.example`, password: password(username), roles: [role] });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  userIds.set(`${tenant}/${username}`, String(res.body['user_id']));
  await signIn(tenant, username);
}

function recordsOf(body: Record<string, unknown>): ChainedRecord[] {
  const records = body['records'];
  assert.ok(Array.isArray(records));
  return records.filter((r): r is ChainedRecord => isRecord(r) && typeof r['position'] === 'number' && typeof r['hash'] === 'string');
}

/** Every record a caller gets for a query, following `next`; checks each page's shape on the way. */
async function readAll(who: string, query: Record<string, string>, limit = 1000): Promise<ChainedRecord[]> {
  const all: ChainedRecord[] = [];
  let after: number | null | undefined;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 500, 'paging ends');
    const params = new URLSearchParams({ ...query, limit: String(limit), ...(after ? { after: String(after) } : {}) });
    const res = await call('GET', `/audit/events?${params}`, tokenOf(who));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body['algorithm'], 'sha256-jcs-v1');
    assert.equal(res.body['stream'], 'AUDIT');
    const records = recordsOf(res.body);
    assert.ok(records.length <= limit);
    all.push(...records);
    const next = res.body['next'];
    if (next === null) return all;
    assert.equal(next, records.at(-1)?.position, '`next` is the last position of the page');
    after = typeof next === 'number' ? next : undefined;
  }
}

/** The positions the table holds for a condition, up to `upTo` (records added meanwhile are not the query's). */
async function positionsInTable(database: Database, where: SQL | undefined, upTo: number): Promise<number[]> {
  const rows = await database.db.select({ position: auditLog.position }).from(auditLog).where(where).orderBy(asc(auditLog.position));
  return rows.map((r) => r.position).filter((p) => p <= upTo);
}

const positions = (records: readonly ChainedRecord[]) => records.map((r) => r.position);
const lastPosition = (records: readonly ChainedRecord[]) => records.at(-1)?.position ?? 0;

/** Until the summarisers have nothing pending and the projection has applied everything on AUDIT, twice in a row. */
async function settled(bus: Bus, database: Database): Promise<void> {
  const deadline = Date.now() + 30_000;
  let calm = 0;
  while (calm < 2) {
    if (Date.now() > deadline) throw new Error('the audit trail did not settle');
    const details = await audit.details?.();
    const summarisers = isRecord(details) && Array.isArray(details['summarisers']) ? details['summarisers'] : [];
    const idle = summarisers.length > 0 && summarisers.every((s) => isRecord(s) && s['pending'] === 0 && s['ackPending'] === 0);
    const lastSeq = (await bus.jsm.streams.info(bus.names.stream(StreamName.Audit))).state.last_seq;
    const applied = await readCheckpoint(database, auditProjection.name);
    calm = idle && applied >= lastSeq ? calm + 1 : 0;
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  const logger = testLogger('audit-query');
  testBus = await startTestBus();
  const [kind] = await availableDatabaseKinds();
  assert.ok(kind);
  db = await createTestDatabase(kind);
  dataDir = mkdtempSync(join(tmpdir(), 'audit-query-'));
  const passwordFile = join(dataDir, 'admin-password');
  writeFileSync(passwordFile, password('root'));
  const config = loadConfig({
    VIGIL_NAMESPACE: testBus.bus.names.namespace,
    VIGIL_HTTP_PORT: '0',
    VIGIL_AUTH_RATE_LIMIT: '100000',
    VIGIL_USER_RATE_LIMIT: '100000',
    VIGIL_DATA_DIR: dataDir,
    VIGIL_BOOTSTRAP_ADMIN: 'root',
    VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE: passwordFile,
  });
  const context = (name: string, bus: Bus) => ({ config, logger, bus, instance: `${name}-1`, version: 'test' });
  identity = await identityService.start(context('identity', await testBus.connect('identity')));
  audit = await createAuditService({ batchSize: 50 }).start({ ...context('audit', await testBus.connect('audit')), database: db.database });
  edge = await buildEdge({ config, bus: await testBus.connect('edge'), logger, version: 'test' });
  url = await edge.listen({ host: '127.0.0.1', port: 0 });

  await signIn('platform', 'root');
  await createTenant('acme', 'alice');
  await createUser('acme', 'alice', 'audra', 'auditor');
  await createUser('acme', 'alice', 'victor', 'viewer');
  await createTenant('globex', 'gina');
  await createUser('globex', 'gina', 'gus', 'auditor');
  // Warnings for acme: wrong passwords.
  for (let i = 0; i < 2; i++) assert.equal((await call('POST', '/auth/login', undefined, { tenant: 'acme', username: 'victor', password: 'not the right pass phrase' })).status, 401);
  await settled(testBus.bus, db.database);
});

after(async () => {
  await edge?.close();
  await audit?.stop();
  await identity?.stop();
  await testBus?.close();
  await db?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('GET /audit/events', () => {
  test('an auditor of acme reads acme’s records, and only those, each with chain fields that re-hash', async () => {
    const records = await readAll('acme/audra', {});
    assert.ok(records.length >= 8, `acme has records (${records.length})`);
    assert.ok(records.every((r) => r.tenant === 'acme'));
    assert.deepEqual(positions(records), await positionsInTable(db.database, eq(auditLog.tenant, 'acme'), lastPosition(records)));
    for (const r of records) {
      const { prev_hash: prevHash, hash, ...record } = r;
      assert.equal(chainHash(prevHash, record), hash, `record ${r.position} re-hashes`);
      assert.match(hash, /^[0-9a-f]{64}$/);
      assert.ok(Number.isInteger(r.seq) && r.seq > 0);
    }
    const categories = new Set(records.map((r) => r.category));
    for (const c of ['authentication', 'administration']) assert.ok(categories.has(c), `has ${c} records`);
  });

  test('filters: category, minimum severity, actor, type, time range — each the table’s answer', async () => {
    const everything = await readAll('acme/audra', {});
    const upTo = lastPosition(everything);
    const acme = eq(auditLog.tenant, 'acme');

    const authentication = await readAll('acme/audra', { category: 'authentication' });
    assert.ok(authentication.length > 0 && authentication.every((r) => r.category === 'authentication'));
    assert.deepEqual(positions(authentication), await positionsInTable(db.database, and(acme, eq(auditLog.category, 'authentication')), upTo));

    const warnings = await readAll('acme/audra', { severity: 'warning' });
    assert.ok(warnings.length > 0, 'the wrong passwords gave warnings');
    assert.ok(warnings.every((r) => r.severity === 'warning' || r.severity === 'critical'));
    const notices = await readAll('acme/audra', { severity: 'notice' });
    assert.ok(notices.length > warnings.length, 'notice and above is more than warning and above');
    assert.ok(notices.every((r) => r.severity !== 'info'));

    const alice = userIds.get('acme/alice') ?? '';
    const byAlice = await readAll('acme/audra', { actor_id: alice });
    assert.ok(byAlice.length > 0 && byAlice.every((r) => r.actor.id === alice));
    assert.deepEqual(positions(byAlice), await positionsInTable(db.database, and(acme, eq(auditLog.actorId, alice)), upTo));

    const summary = everything.find((r) => isRecord(r.details['source']));
    const source = summary && isRecord(summary.details['source']) ? summary.details['source'] : undefined;
    const sourceType = typeof source?.['type'] === 'string' ? source['type'] : '';
    assert.ok(sourceType, 'acme has summaries');
    const ofType = await readAll('acme/audra', { type: sourceType });
    assert.ok(ofType.length > 0 && ofType.every((r) => r.type === sourceType || (isRecord(r.details['source']) && r.details['source']['type'] === sourceType)));
    const failedLogins = await readAll('acme/audra', { type: 'audit.auth.login_failed' });
    assert.equal(failedLogins.length, 2, 'the two wrong passwords');
    assert.ok(failedLogins.every((r) => r.type === 'audit.auth.login_failed'));

    const first = everything[2];
    const last = everything[everything.length - 3];
    assert.ok(first && last && first.at < last.at, 'records span some time');
    const window = await readAll('acme/audra', { since: first.at, until: last.at });
    assert.ok(window.length > 0 && window.every((r) => r.at >= first.at && r.at < last.at));
    assert.deepEqual(
      positions(window),
      positions(everything.filter((r) => r.at >= first.at && r.at < last.at)),
    );
  });

  test('keyset pages: small pages give the same records, once each; desc gives them newest first', async () => {
    const whole = await readAll('acme/audra', {});
    const paged = await readAll('acme/audra', {}, 3);
    assert.deepEqual(positions(paged), positions(whole));
    const newestFirst = await readAll('acme/audra', { order: 'desc' }, 4);
    assert.deepEqual(positions(newestFirst), positions(whole).reverse());
    const firstPage = await call('GET', '/audit/events', tokenOf('acme/audra'));
    assert.ok(recordsOf(firstPage.body).length <= 100, 'default limit 100');
  });

  test('a viewer gets 403, no token 401, as problem+json', async () => {
    const viewer = await call('GET', '/audit/events', tokenOf('acme/victor'));
    assert.equal(viewer.status, 403);
    assert.match(viewer.type, /^application\/problem\+json/);
    assert.equal(viewer.body['code'], 'VGL_FORBIDDEN');
    const anonymous = await call('GET', '/audit/events');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.type, /^application\/problem\+json/);
  });

  test('globex’s auditor never sees acme’s records, whatever it asks', async () => {
    const own = await readAll('globex/gus', {});
    assert.ok(own.length > 0 && own.every((r) => r.tenant === 'globex'));
    assert.deepEqual(positions(own), await positionsInTable(db.database, eq(auditLog.tenant, 'globex'), lastPosition(own)));
    const alice = userIds.get('acme/alice') ?? '';
    assert.deepEqual(await readAll('globex/gus', { actor_id: alice }), [], 'acme’s owner acted on no globex record');
    assert.deepEqual(await readAll('globex/gus', { since: '2000-01-01T00:00:00Z', severity: 'info', category: 'authentication' }).then((r) => r.filter((x) => x.tenant !== 'globex')), []);
    const other = await call('GET', '/audit/events?tenant=acme', tokenOf('globex/gus'));
    assert.equal(other.status, 403);
    assert.match(other.type, /^application\/problem\+json/);
    assert.equal(other.body['code'], 'VGL_AUDIT_TENANT_FORBIDDEN');
    assert.equal((await call('GET', '/audit/events?tenant=globex', tokenOf('globex/gus'))).status, 200, 'its own tenant may be named');
    // The reach across tenants is itself an authorization record, in the caller's own trail.
    const gus = userIds.get('globex/gus') ?? '';
    await settled(testBus.bus, db.database);
    const denials = await readAll('globex/gus', { type: 'audit.auth.access_denied', actor_id: gus });
    assert.equal(denials.length, 1, JSON.stringify(denials));
    assert.equal(denials[0]?.severity, 'warning');
    assert.equal(denials[0]?.category, 'authorization');
    assert.equal(denials[0]?.details['route'], 'qry.audit.events tenant=acme');
  });

  test('the platform reads one tenant when it names it, and the whole chain, every link checked, when it names none', async () => {
    const acmeByAuditor = await readAll('acme/audra', {});
    const acmeByPlatform = await readAll('platform/root', { tenant: 'acme' });
    assert.deepEqual(positions(acmeByPlatform).filter((p) => p <= lastPosition(acmeByAuditor)), positions(acmeByAuditor));
    const chain = await readAll('platform/root', {});
    assert.deepEqual(positions(chain), chain.map((_, i) => i + 1), 'every position from 1');
    const tenants = new Set(chain.map((r) => r.tenant));
    for (const t of ['acme', 'globex', 'platform']) assert.ok(tenants.has(t), `the chain holds ${t}`);
    chain.forEach((r, i) => assert.equal(r.prev_hash, i === 0 ? '0'.repeat(64) : chain[i - 1]?.hash, `link ${r.position}`));
  });

  test('bad query parameters → 400 problem+json, nothing read', async () => {
    const bad = [
      'limit=0',
      'limit=1001',
      'limit=ten',
      'limit=2.5',
      'after=-1',
      'severity=loud',
      'category=gossip',
      'since=yesterday',
      'until=2026-13-01T00:00:00Z',
      'order=sideways',
      'type=NOT%20A%20TYPE',
      'tenant=Not!A!Tenant',
      'colour=blue',
      'since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z',
    ];
    for (const query of bad) {
      const res = await call('GET', `/audit/events?${query}`, tokenOf('acme/audra'));
      assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      assert.match(res.type, /^application\/problem\+json/, query);
      assert.equal(res.body['status'], 400);
      assert.ok(typeof res.body['code'] === 'string' && ['VGL_VALIDATION', 'VGL_AUDIT_QUERY'].includes(res.body['code']), `${query}: ${String(res.body['code'])}`);
    }
  });
});
