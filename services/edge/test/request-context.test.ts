import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { serve, type Served } from '@vigil/bus';
import { jsonObject, listen, startTestEdge, uuidv7Pattern, type EdgeUnderTest } from './harness.ts';
import { testRoutes } from './test-routes.ts';

let edge: EdgeUnderTest;
let baseUrl: string;
let worker: Served;
/** Correlation ids as the bus handler received them. */
const seenByWorker: string[] = [];

before(async () => {
  edge = await startTestEdge({
    extend: async (app, bus) => {
      await app.register(testRoutes, { prefix: '/test', bus });
    },
  });
  worker = serve(edge.workerBus, {
    subject: 'qry.test.whoami',
    parse: (data) => data,
    handle: async (request) => {
      seenByWorker.push(request.correlationId);
      return { correlationId: request.correlationId };
    },
  });
  await edge.workerBus.nc.flush();
  // A real socket: a body read from a real connection is where an async context gets lost.
  baseUrl = await listen(edge.app);
});
after(async () => {
  await worker.stop();
  await edge.app.close();
  await edge.testBus.close();
});

describe('request id', () => {
  test('a sane x-request-id is echoed', async () => {
    const res = await fetch(`${baseUrl}/health/live`, { headers: { 'x-request-id': 'lb-7f3a:0001.retry_2' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'lb-7f3a:0001.retry_2');
  });

  test('none given → a UUIDv7 is generated', async () => {
    const res = await fetch(`${baseUrl}/health/live`);
    assert.match(res.headers.get('x-request-id') ?? '', uuidv7Pattern);
  });

  test('an unsafe or oversized x-request-id is replaced', async () => {
    for (const given of ['has space', 'x'.repeat(129), 'a\u00e9b', '"quoted"', 'semi;colon']) {
      const res = await fetch(`${baseUrl}/health/live`, { headers: { 'x-request-id': given } });
      assert.match(res.headers.get('x-request-id') ?? '', uuidv7Pattern, given);
    }
  });
});

describe('correlation id across the bus', () => {
  test('a GET handler’s bus request carries the request id', async () => {
    const res = await fetch(`${baseUrl}/test/bus`, { headers: { 'x-request-id': 'corr-get-1' } });
    assert.equal(res.status, 200, await res.clone().text());
    const body = jsonObject(await res.text());
    assert.equal(body['handlerContext'], 'corr-get-1');
    assert.equal(body['correlationId'], 'corr-get-1');
    assert.ok(seenByWorker.includes('corr-get-1'));
  });

  test('a POST handler (body read from the socket) keeps the context too', async () => {
    const res = await fetch(`${baseUrl}/test/bus`, {
      method: 'POST',
      headers: { 'x-request-id': 'corr-post-1', 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello' }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = jsonObject(await res.text());
    assert.equal(body['handlerContext'], 'corr-post-1');
    assert.equal(body['correlationId'], 'corr-post-1');
  });

  test('a POST whose body arrives after the headers (another socket read) keeps the context', async () => {
    const body = JSON.stringify({ text: 'slow' });
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${baseUrl}/test/bus`, {
        method: 'POST',
        headers: { 'x-request-id': 'corr-slow-1', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.flushHeaders();
      // The body comes in two later packets, so it is read in the socket's callbacks, not the request's.
      void sleep(50)
        .then(() => req.write(body.slice(0, 5)))
        .then(() => sleep(50))
        .then(() => req.end(body.slice(5)));
    });
    assert.equal(answer.status, 200, answer.text);
    const parsed = jsonObject(answer.text);
    assert.equal(parsed['handlerContext'], 'corr-slow-1');
    assert.equal(parsed['correlationId'], 'corr-slow-1');
  });

  test('a generated request id is the correlation id as well', async () => {
    const res = await fetch(`${baseUrl}/test/bus`);
    const requestId = res.headers.get('x-request-id');
    assert.match(requestId ?? '', uuidv7Pattern);
    assert.equal(jsonObject(await res.text())['correlationId'], requestId);
  });

  test('log lines written while handling carry the correlation id', async () => {
    await fetch(`${baseUrl}/test/bus`, { headers: { 'x-request-id': 'corr-log-1' } });
    const line = edge.logs.lines.find((l) => l['msg'] === 'asking the test worker' && l['correlation_id'] === 'corr-log-1');
    assert.ok(line, 'the handler’s log line has correlation_id');
    assert.equal(line['request_id'], 'corr-log-1');
  });
});
