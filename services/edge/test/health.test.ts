import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serveWorkerStatus, type StatusResponder, type WorkerStatus } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { buildEdge } from '../src/index.ts';
import { arrayOf, jsonObject, startTestEdge, type EdgeUnderTest } from './harness.ts';

let testBus: TestBus;
before(async () => {
  testBus = await startTestBus();
});
after(async () => {
  await testBus.close();
});

function worker(status: Partial<WorkerStatus> & { service: string }): WorkerStatus {
  return { instance: `${status.service}-1`, version: '1.0.0', uptimeSeconds: 5, ...status };
}

function checksOf(body: Record<string, unknown>): Map<string, Record<string, unknown>> {
  return new Map(arrayOf(body['checks']).map((c) => [String(c['name']), c]));
}

describe('health with no required workers', () => {
  let edge: EdgeUnderTest;
  before(async () => {
    edge = await startTestEdge({ testBus });
  });
  after(async () => {
    await edge.app.close();
  });

  test('live answers 200 ok', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(jsonObject(res.body), { status: 'ok' });
  });

  test('ready answers 200 when NATS answers and every stream exists', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200, res.body);
    const body = jsonObject(res.body);
    assert.equal(body['status'], 'ready');
    const checks = checksOf(body);
    assert.equal(checks.get('nats')?.['ok'], true);
    for (const s of edge.edgeBus.streams) assert.equal(checks.get(`stream:${s.name}`)?.['ok'], true, s.name);
  });
});

describe('readiness with a required worker', () => {
  let edge: EdgeUnderTest;
  const responders: StatusResponder[] = [];
  before(async () => {
    edge = await startTestEdge({ testBus, env: { VIGIL_READY_WORKERS: 'kme' } });
  });
  after(async () => {
    for (const r of responders) await r.stop();
    await edge.app.close();
  });

  test('503 problem+json while the worker does not answer, 200 once it does', async () => {
    const before = await edge.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(before.statusCode, 503);
    assert.match(String(before.headers['content-type']), /^application\/problem\+json/);
    const problem = jsonObject(before.body);
    assert.equal(problem['status'], 503);
    assert.equal(problem['code'], 'VGL_NOT_READY');
    assert.equal(problem['request_id'], before.headers['x-request-id']);
    const failing = checksOf(problem).get('worker:kme');
    assert.equal(failing?.['ok'], false);
    assert.match(String(failing?.['error']), /no kme worker answered/);
    assert.equal(checksOf(problem).get('nats')?.['ok'], true);

    responders.push(serveWorkerStatus(edge.workerBus, async () => worker({ service: 'kme' })));
    await edge.workerBus.nc.flush();
    const res = await edge.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(checksOf(jsonObject(res.body)).get('worker:kme')?.['ok'], true);
  });

  test('503 when an answering worker has not applied every migration it knows', async () => {
    const behind = serveWorkerStatus(edge.workerBus, async () => worker({ service: 'identity', instance: 'id-7', migrations: { known: 5, applied: 3 } }));
    responders.push(behind);
    await edge.workerBus.nc.flush();
    const res = await edge.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(res.statusCode, 503, res.body);
    const check = checksOf(jsonObject(res.body)).get('migrations:identity/id-7');
    assert.equal(check?.['ok'], false);
    assert.equal(check?.['error'], '3 of 5 migrations applied');
    await behind.stop();
    responders.splice(responders.indexOf(behind), 1);
    const recovered = await edge.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(recovered.statusCode, 200, recovered.body);
  });
});

describe('readiness without streams', () => {
  test('503 naming each missing stream', async () => {
    // A namespace where nobody created the streams.
    const edgeBus = await testBus.connect('edge-bare', { namespace: 'bare', ensureStreams: false });
    const app = await buildEdge({ config: loadConfig({ VIGIL_NAMESPACE: 'bare' }), bus: edgeBus, logger: testLogger('edge'), version: 'x' });
    try {
      const res = await app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(res.statusCode, 503);
      const checks = checksOf(jsonObject(res.body));
      for (const s of edgeBus.streams) {
        assert.equal(checks.get(`stream:${s.name}`)?.['ok'], false, s.name);
        assert.match(String(checks.get(`stream:${s.name}`)?.['error']), /not found/i);
      }
    } finally {
      await app.close();
    }
  });
});

describe('health when NATS is gone', () => {
  test('ready is 503 naming nats, detailed still answers 200 degraded', async () => {
    const edgeBus = await testBus.connect('edge-lost');
    const app = await buildEdge({
      config: loadConfig({ VIGIL_NAMESPACE: testBus.bus.names.namespace }),
      bus: edgeBus,
      logger: testLogger('edge'),
      version: 'x',
    });
    try {
      await edgeBus.nc.close();
      const ready = await app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 503);
      const nats = checksOf(jsonObject(ready.body)).get('nats');
      assert.equal(nats?.['ok'], false);
      assert.match(String(nats?.['error']), /closed/);
      const detailed = await app.inject({ method: 'GET', url: '/health/detailed' });
      assert.equal(detailed.statusCode, 200);
      assert.equal(jsonObject(detailed.body)['status'], 'degraded');
      const live = await app.inject({ method: 'GET', url: '/health/live' });
      assert.equal(live.statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('detailed health', () => {
  let edge: EdgeUnderTest;
  let responder: StatusResponder;
  before(async () => {
    edge = await startTestEdge({ testBus, env: { VIGIL_READY_WORKERS: 'telemetry' } });
    responder = serveWorkerStatus(edge.workerBus, async () =>
      worker({
        service: 'telemetry',
        instance: 'tel-1',
        database: { kind: 'pglite', latencyMs: 2 },
        migrations: { known: 4, applied: 4 },
        projections: [
          { name: 'readings', checkpoint: 120, pending: 7, active: true },
          { name: 'heartbeats', checkpoint: 40, pending: null, active: false },
        ],
        details: { links: 2 },
      }),
    );
    await edge.workerBus.nc.flush();
  });
  after(async () => {
    await responder.stop();
    await edge.app.close();
  });

  test('lists checks with latency, workers and projection lag', async () => {
    const res = await edge.app.inject({ method: 'GET', url: '/health/detailed' });
    assert.equal(res.statusCode, 200, res.body);
    const body = jsonObject(res.body);
    assert.equal(body['status'], 'ok');
    assert.equal(body['version'], '0.0.0-test');
    assert.equal(typeof body['uptime_seconds'], 'number');
    const checks = checksOf(body);
    assert.equal(checks.get('nats')?.['ok'], true);
    assert.equal(typeof checks.get('nats')?.['latency_ms'], 'number');
    const audit = checks.get('stream:AUDIT');
    assert.equal(audit?.['ok'], true);
    assert.equal(typeof audit?.['messages'], 'number');
    assert.equal(checks.get('worker:telemetry')?.['ok'], true);
    assert.equal(checks.get('migrations:telemetry/tel-1')?.['ok'], true);

    const workers = arrayOf(body['workers']);
    assert.equal(workers.length, 1);
    assert.equal(workers[0]?.['service'], 'telemetry');
    assert.deepEqual(workers[0]?.['migrations'], { known: 4, applied: 4 });
    assert.deepEqual(workers[0]?.['details'], { links: 2 });

    assert.deepEqual(arrayOf(body['projections']), [
      { service: 'telemetry', instance: 'tel-1', name: 'readings', checkpoint: 120, pending: 7, active: true },
      { service: 'telemetry', instance: 'tel-1', name: 'heartbeats', checkpoint: 40, pending: null, active: false },
    ]);
  });

  test('still 200, degraded, when a required worker is missing', async () => {
    await responder.stop();
    const res = await edge.app.inject({ method: 'GET', url: '/health/detailed' });
    assert.equal(res.statusCode, 200);
    const body = jsonObject(res.body);
    assert.equal(body['status'], 'degraded');
    assert.equal(checksOf(body).get('worker:telemetry')?.['ok'], false);
    assert.deepEqual(body['workers'], []);
  });
});
