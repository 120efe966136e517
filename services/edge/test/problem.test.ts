import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { jsonObject, startTestEdge, type EdgeUnderTest } from './harness.ts';
import { testRoutes } from './test-routes.ts';

let edge: EdgeUnderTest;
before(async () => {
  edge = await startTestEdge({
    env: { VIGIL_HTTP_BODY_LIMIT: '1024' },
    extend: async (app, bus) => {
      await app.register(testRoutes, { prefix: '/test', bus });
    },
  });
});
after(async () => {
  await edge.app.close();
  await edge.testBus.close();
});

/** Checks the RFC 9457 shape every error shares, and returns the body. */
function problemOf(res: LightMyRequestResponse, status: number): Record<string, unknown> {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = jsonObject(res.body);
  assert.equal(body['type'], 'about:blank');
  assert.equal(body['status'], status);
  assert.equal(typeof body['title'], 'string');
  assert.equal(typeof body['detail'], 'string');
  assert.equal(typeof body['instance'], 'string');
  assert.equal(body['request_id'], res.headers['x-request-id']);
  return body;
}

describe('problem+json', () => {
  test('unknown route → 404', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/no/such/route?token=abc' });
    const body = problemOf(res, 404);
    assert.equal(body['code'], 'VGL_NOT_FOUND');
    assert.equal(body['title'], 'Not Found');
    assert.equal(body['instance'], '/no/such/route');
    assert.doesNotMatch(res.body, /token=abc/);
  });

  test('body over the limit → 413', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', payload: { text: 'x'.repeat(2000) } });
    const body = problemOf(res, 413);
    assert.equal(body['code'], 'VGL_BODY_TOO_LARGE');
    assert.match(String(body['detail']), /1024 bytes/);
  });

  test('malformed JSON → 400', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"text": "a",' });
    const body = problemOf(res, 400);
    assert.equal(body['code'], 'VGL_MALFORMED_BODY');
  });

  test('empty JSON body → 400', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '' });
    assert.equal(problemOf(res, 400)['code'], 'VGL_MALFORMED_BODY');
  });

  test('unsupported content type → 415', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/xml' }, payload: '<text>a</text>' });
    assert.equal(problemOf(res, 415)['code'], 'VGL_UNSUPPORTED_MEDIA_TYPE');
  });

  test('body that fails its schema → 400 with the list of problems', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', payload: { text: 42 } });
    const body = problemOf(res, 400);
    assert.equal(body['code'], 'VGL_VALIDATION');
    assert.deepEqual(body['errors'], [{ in: 'body', pointer: '#/text', detail: 'must be string' }]);
  });

  test('missing required property → 400 pointing at it', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', payload: {} });
    const body = problemOf(res, 400);
    assert.deepEqual(body['errors'], [{ in: 'body', pointer: '#/text', detail: 'is required' }]);
  });

  test('every problem is listed, unknown properties included (a tenant in a body is refused, not trusted)', async () => {
    const res = await edge.app.inject({ method: 'POST', url: '/test/echo', payload: { text: 7, tenant: 'acme' } });
    const body = problemOf(res, 400);
    assert.deepEqual(body['errors'], [
      { in: 'body', pointer: '#/tenant', detail: 'is not allowed' },
      { in: 'body', pointer: '#/text', detail: 'must be string' },
    ]);
  });

  test('a declared VigilError → its status and code', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/test/vigil-error' });
    const body = problemOf(res, 400);
    assert.equal(body['code'], 'VGL_BAD_REQUEST');
    assert.equal(body['detail'], 'bad request: the widget is missing');
  });

  test('anything else → 500 with nothing internal, and the cause logged', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/test/crash' });
    const body = problemOf(res, 500);
    assert.equal(body['code'], 'VGL_INTERNAL');
    assert.doesNotMatch(res.body, /hunter2|10\.0\.0\.7|database/);
    const logged = edge.logs.lines.find((l) => l['msg'] === 'request failed' && l['request_id'] === res.headers['x-request-id']);
    assert.ok(logged, 'the failure is logged with the request id');
    assert.equal(logged['correlation_id'], res.headers['x-request-id']);
  });

  test('a malformed URL → 400 problem+json', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/test/%E0%A4%A' });
    const body = problemOf(res, 400);
    assert.equal(body['code'], 'VGL_BAD_URL');
  });
});
