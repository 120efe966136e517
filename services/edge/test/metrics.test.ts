import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rejectionCounts } from '@vigil/bus';
import { randomToken, uuidv7 } from '@vigil/crypto';
import { startTestBus, type TestBus } from '@vigil/testkit';
import { startTestEdge, type EdgeUnderTest } from './harness.ts';

let testBus: TestBus;
let edge: EdgeUnderTest;
before(async () => {
  testBus = await startTestBus();
  edge = await startTestEdge({ testBus });
});
after(async () => {
  await edge.app.close();
  await testBus.close();
});

async function scrape(target: EdgeUnderTest): Promise<string> {
  const res = await target.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  return res.body;
}

describe('/metrics', () => {
  test('counts requests by method, route pattern and status', async () => {
    await edge.app.inject({ method: 'GET', url: '/health/live' });
    await edge.app.inject({ method: 'GET', url: '/health/live?probe=1' });
    await edge.app.inject({ method: 'GET', url: '/scanner/wp-login.php' });
    const text = await scrape(edge);
    assert.match(text, /^http_requests_total\{method="GET",route="\/health\/live",status="200"\} 2$/m);
    // Unmatched URLs share one label value, so scanners cannot grow the series.
    assert.match(text, /^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
    assert.doesNotMatch(text, /wp-login/);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/health\/live",status="200"\} \d+$/m);
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^# TYPE vigil_terminated_messages gauge$/m);
  });

  test('exposes terminated messages from the bus tally', async () => {
    rejectionCounts.set('edge-metrics-test', 3);
    try {
      assert.match(await scrape(edge), /^vigil_terminated_messages\{consumer="edge-metrics-test"\} 3$/m);
    } finally {
      rejectionCounts.delete('edge-metrics-test');
    }
  });

  test('counts the API key ids it did not hold, by outcome', async () => {
    const madeUp = `vgl_${uuidv7()}_${randomToken()}`;
    for (let i = 0; i < 2; i++) {
      const res = await edge.app.inject({ method: 'GET', url: '/devices', headers: { 'x-api-key': madeUp } });
      assert.equal(res.statusCode, 401);
    }
    const text = await scrape(edge);
    assert.match(text, /^# TYPE vigil_edge_api_key_lookups_total counter$/m);
    assert.match(text, /^vigil_edge_api_key_lookups_total\{outcome="absent"\} 1$/m, 'read once');
    assert.match(text, /^vigil_edge_api_key_lookups_total\{outcome="known_absent"\} 1$/m, 'then refused without a read');
    assert.doesNotMatch(text, new RegExp(madeUp.slice(4, 40)), 'no key id in a label');
  });

  test('two edges in one process keep separate registries', async () => {
    const other = await startTestEdge({ testBus });
    try {
      await other.app.inject({ method: 'GET', url: '/health/live' });
      const text = await scrape(other);
      assert.match(text, /^http_requests_total\{method="GET",route="\/health\/live",status="200"\} 1$/m);
    } finally {
      await other.app.close();
    }
  });
});
