import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '@vigil/config';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import type { RouteOptions } from 'fastify';
import Type from 'typebox';
import { buildEdge } from '../src/index.ts';
import { schemaPolicyViolation } from '../src/schema-policy.ts';
import { arrayOf, isRecord, jsonObject } from './harness.ts';
import { testRoutes } from './test-routes.ts';

let testBus: TestBus;
before(async () => {
  testBus = await startTestBus();
});
after(async () => {
  await testBus.close();
});

const config = () => loadConfig({ VIGIL_HTTP_PORT: '0', VIGIL_NAMESPACE: testBus.bus.names.namespace });

describe('OpenAPI', () => {
  test('/openapi.json documents every route with a summary, tags and responses', async () => {
    const app = await buildEdge({ config: config(), bus: testBus.bus, logger: testLogger('edge'), version: '1.2.3' });
    const routes: Pick<RouteOptions, 'method' | 'url' | 'schema'>[] = [];
    app.addHook('onRoute', (route) => {
      routes.push(route);
    });
    await app.register(testRoutes, { prefix: '/test', bus: testBus.bus });
    await app.ready();
    try {
      const res = await app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      const doc = jsonObject(res.body);
      assert.equal(doc['openapi'], '3.1.0');
      assert.deepEqual(doc['info'] && isRecord(doc['info']) ? doc['info']['version'] : undefined, '1.2.3');
      const paths = doc['paths'];
      assert.ok(isRecord(paths));
      for (const p of ['/health/live', '/health/ready', '/health/detailed', '/metrics', '/openapi.json', '/test/echo']) {
        assert.ok(p in paths, `${p} is documented`);
      }
      for (const [path, item] of Object.entries(paths)) {
        assert.ok(isRecord(item));
        for (const [method, operation] of Object.entries(item)) {
          assert.ok(isRecord(operation), `${method} ${path}`);
          assert.equal(typeof operation['summary'], 'string', `${method} ${path} summary`);
          assert.ok(Array.isArray(operation['tags']) && operation['tags'].length > 0, `${method} ${path} tags`);
          assert.ok(isRecord(operation['responses']), `${method} ${path} responses`);
        }
      }
      // The readiness failure is documented as problem+json with its checks.
      const ready = paths['/health/ready'];
      assert.ok(isRecord(ready) && isRecord(ready['get']) && isRecord(ready['get']['responses']));
      const notReady = ready['get']['responses']['503'];
      assert.ok(isRecord(notReady) && isRecord(notReady['content']) && 'application/problem+json' in notReady['content']);
      // No docs tooling leaks into the API description.
      assert.ok(!Object.keys(paths).some((p) => p.startsWith('/docs')));
      // A body schema becomes a documented request body.
      const echo = paths['/test/echo'];
      assert.ok(isRecord(echo) && isRecord(echo['post']) && isRecord(echo['post']['requestBody']));

      // Every route the edge has (the docs' own files aside) carries a complete schema.
      assert.ok(routes.length > 0);
      for (const route of routes) assert.equal(schemaPolicyViolation(route), undefined);
    } finally {
      await app.close();
    }
  });

  test('a route without a complete schema is refused when it is declared', async () => {
    const app = await buildEdge({ config: config(), bus: testBus.bus, logger: testLogger('edge'), version: 'x' });
    try {
      assert.throws(() => app.get('/undocumented', async () => 'hi'), /route schema policy: GET \/undocumented has no schema/);
      // Inside a plugin, the same refusal makes the edge fail to start.
      await assert.rejects(async () => {
        await app.register(async (plugin) => {
          plugin.get('/no-response', { schema: { summary: 'x', tags: ['x'], querystring: Type.Object({}) } }, async () => 'hi');
        });
      }, /GET \/no-response has no schema.response/);
    } finally {
      await app.close();
    }
  });

  test('the docs UI is served at /docs', async () => {
    const app = await buildEdge({ config: config(), bus: testBus.bus, logger: testLogger('edge'), version: 'x' });
    try {
      const res = await app.inject({ method: 'GET', url: '/docs/json' });
      assert.equal(res.statusCode, 200);
      assert.equal(jsonObject(res.body)['openapi'], '3.1.0');
      assert.ok(arrayOf(jsonObject(res.body)['tags']).some((t) => t['name'] === 'health'));
    } finally {
      await app.close();
    }
  });
});
