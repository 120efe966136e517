import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBus, type TestBus } from '@vigil/testkit';
import { startTestEdge, type EdgeUnderTest } from './harness.ts';

let testBus: TestBus;
before(async () => {
  testBus = await startTestBus();
});
after(async () => {
  await testBus.close();
});

describe('helmet', () => {
  let edge: EdgeUnderTest;
  before(async () => {
    edge = await startTestEdge({ testBus });
  });
  after(async () => {
    await edge.app.close();
  });

  test('API responses carry the security headers', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(res.headers['x-powered-by'], undefined);
  });

  test('errors carry them too', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/nowhere' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  test('/docs gets a CSP that lets swagger-ui load its own files over plain HTTP', async () => {
    const page = await edge.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const bundle = await edge.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
    const initializer = await edge.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(initializer.statusCode, 200);
  });

  test('CORS is off when no origin is configured', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://console.example.org' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS', () => {
  let edge: EdgeUnderTest;
  before(async () => {
    // The trailing slash is how people write URLs; a browser's Origin never has one.
    edge = await startTestEdge({ testBus, env: { VIGIL_CORS_ORIGINS: 'https://console.example.org/, http://localhost:5173' } });
  });
  after(async () => {
    await edge.app.close();
  });

  test('an allowed origin gets access-control-allow-origin', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://console.example.org' } });
    assert.equal(res.headers['access-control-allow-origin'], 'https://console.example.org');
    assert.match(String(res.headers['access-control-expose-headers']), /x-request-id/);
  });

  test('another origin does not', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('a preflight from an allowed origin is answered', async () => {
    const res = await edge.app.inject({
      method: 'OPTIONS',
      url: '/health/ready',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
    });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'http://localhost:5173');
  });
});
