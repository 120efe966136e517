// One log line per request, on completion, with the route pattern and the principal; never a token, a URL or a
// query string. The test plays the identity worker's JWKS answer and its tenant, so the edge verifies real EdDSA
// tokens of a tenant that exists.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { append, createEvent, serve, type Served } from '@vigil/bus';
import { identitySubjects, tenantSubject, type Role } from '@vigil/identity-contract';
import { TenantCreated } from '@vigil/schemas';
import { startTestBus } from '@vigil/testkit';
import { exportJWK, SignJWT } from 'jose';
import Type from 'typebox';
import { listen, startTestEdge, type EdgeUnderTest } from './harness.ts';

const kid = 'request-log-test';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

async function accessToken(subject: { userId: string; tenant: string; roles: Role[] }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tenant: subject.tenant, sid: randomUUID(), roles: subject.roles })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
    .setIssuer('vigil')
    .setAudience('vigil-api')
    .setSubject(subject.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(privateKey);
}

/** A route behind a permission, with a path parameter, that answers who asked. */
const whoamiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/items/:id',
    {
      config: { permission: 'profile:self' },
      schema: {
        summary: 'Who asked, for an item',
        tags: ['test'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        querystring: Type.Object({ api_secret: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ tenant: Type.String() }) },
      },
    },
    async (req) => ({ tenant: req.principal?.tenant ?? '' }),
  );
};

let edge: EdgeUnderTest;
let baseUrl: string;
let jwks: Served;
const userId = randomUUID();
let token: string;

before(async () => {
  const testBus = await startTestBus();
  const identityBus = await testBus.connect('identity');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  jwks = serve(identityBus, { subject: identitySubjects.jwks, parse: () => undefined, handle: async () => ({ keys: [jwk] }) });
  await identityBus.nc.flush();
  await append(identityBus, tenantSubject('acme'), createEvent(TenantCreated, { tenant_id: 'acme', name: 'Acme', max_users: 5 }, { actor: { kind: 'service', id: 'identity' }, tenant: 'acme' }));
  edge = await startTestEdge({ testBus, extend: async (app) => app.register(whoamiRoutes, { prefix: '/test' }) });
  baseUrl = await listen(edge.app);
  token = await accessToken({ userId, tenant: 'acme', roles: ['viewer'] });
});
after(async () => {
  await edge.app.close();
  await jwks.stop();
  await edge.testBus.close();
});

/** Every line the edge wrote about one request id. */
function linesOf(requestId: string): Record<string, unknown>[] {
  return edge.logs.lines.filter((l) => l['request_id'] === requestId || l['reqId'] === requestId);
}

/** The one line logged for a request; fails when there is none or more than one. */
function requestLine(requestId: string): Record<string, unknown> {
  const lines = linesOf(requestId);
  assert.equal(lines.length, 1, `one line for ${requestId}: ${JSON.stringify(lines)}`);
  const [line] = lines;
  assert.ok(line);
  assert.equal(line['msg'], 'request completed');
  return line;
}

async function get(path: string, requestId: string, authorization?: string): Promise<number> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { 'x-request-id': requestId, ...(authorization ? { authorization } : {}) } });
  await res.text();
  // The line is written when the response has finished, which may be just after the client has read it.
  for (let i = 0; i < 100 && linesOf(requestId).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  return res.status;
}

describe('request log', () => {
  test('an authenticated request: one line with route pattern, status, latency, principal and tenant; no token, id or query', async () => {
    const status = await get('/test/items/item-4711?api_secret=s3cr3t-query-value', 'log-ok-1', `Bearer ${token}`);
    assert.equal(status, 200);
    const line = requestLine('log-ok-1');
    assert.equal(line['method'], 'GET');
    assert.equal(line['route'], '/test/items/:id');
    assert.equal(line['status'], 200);
    assert.equal(typeof line['latency_ms'], 'number');
    assert.ok(Number(line['latency_ms']) >= 0);
    assert.equal(line['principal_id'], userId);
    assert.equal(line['tenant'], 'acme');
    assert.equal(line['level'], 'info');
    for (const key of ['req', 'res', 'url', 'headers', 'authorization', 'remoteAddress']) assert.ok(!(key in line), `no ${key}`);
    const text = JSON.stringify(edge.logs.lines);
    assert.ok(!text.includes(token), 'the token is in no log line');
    assert.ok(!text.includes(token.split('.')[2] ?? token), 'not even its signature');
    assert.doesNotMatch(text, /s3cr3t-query-value|item-4711/);
  });

  test('a refused token: the line has the status and problem code, no principal, and not the header value', async () => {
    const forged = `Bearer ${token.slice(0, -6)}AAAAAA`;
    assert.equal(await get('/test/items/x', 'log-401-1', forged), 401);
    const line = requestLine('log-401-1');
    assert.equal(line['status'], 401);
    assert.equal(line['code'], 'VGL_TOKEN_INVALID');
    assert.ok(!('principal_id' in line) && !('tenant' in line));
    assert.ok(!JSON.stringify(edge.logs.lines).includes(forged.slice(7)));
  });

  test('a request no route matches is logged as `unmatched`, without its URL', async () => {
    assert.equal(await get('/no/such/place?password=hunter2', 'log-404-1'), 404);
    const line = requestLine('log-404-1');
    assert.equal(line['route'], 'unmatched');
    assert.equal(line['status'], 404);
    assert.equal(line['code'], 'VGL_NOT_FOUND');
    assert.doesNotMatch(JSON.stringify(edge.logs.lines), /hunter2|no\/such\/place/);
  });

  test('a request that fails validation gets its one line too (no separate "refused" line)', async () => {
    const res = await edge.app.inject({ method: 'GET', url: `/test/items/${'x'.repeat(65)}`, headers: { 'x-request-id': 'log-400-1', authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 400);
    const line = requestLine('log-400-1');
    assert.equal(line['status'], 400);
    assert.equal(line['code'], 'VGL_VALIDATION');
    assert.equal(line['principal_id'], userId);
  });

  test('fastify’s own request lines are gone', () => {
    assert.ok(!edge.logs.lines.some((l) => l['msg'] === 'incoming request' || l['msg'] === 'request refused'));
  });
});
