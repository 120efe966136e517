import { Writable } from 'node:stream';
import type { Bus } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { createLogger, type Logger } from '@vigil/log';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import type { FastifyInstance } from 'fastify';
import { buildEdge } from '../src/index.ts';

/** Log lines written by an edge under test, parsed. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed === 'object' && parsed !== null) this.lines.push(Object.fromEntries(Object.entries(parsed)));
      }
      done();
    },
  });
}

export interface EdgeUnderTest {
  readonly app: FastifyInstance;
  /** The edge's own NATS connection. */
  readonly edgeBus: Bus;
  /** Another connection to the same NATS and namespace, for workers the test plays. */
  readonly workerBus: Bus;
  readonly testBus: TestBus;
  readonly logs: LogCapture;
}

export interface EdgeSetup {
  readonly env?: Record<string, string>;
  /** Registers test-only routes before the edge is ready. */
  readonly extend?: (app: FastifyInstance, edgeBus: Bus) => Promise<void>;
  /** Reuse a NATS already started by the file (one server per file is enough). */
  readonly testBus?: TestBus;
}

export async function startTestEdge(setup: EdgeSetup = {}): Promise<EdgeUnderTest> {
  const testBus = setup.testBus ?? (await startTestBus());
  const edgeBus = await testBus.connect('edge');
  const workerBus = await testBus.connect('worker');
  const config = loadConfig({ VIGIL_HTTP_PORT: '0', VIGIL_NAMESPACE: testBus.bus.names.namespace, ...setup.env });
  const logs = new LogCapture();
  const logger: Logger = process.env['TEST_LOG_LEVEL'] ? testLogger('edge') : createLogger({ service: 'edge', level: 'info', destination: logs.stream });
  const app = await buildEdge({ config, bus: edgeBus, logger, version: '0.0.0-test' });
  if (setup.extend) await setup.extend(app, edgeBus);
  await app.ready();
  return { app, edgeBus, workerBus, testBus, logs };
}

/** Starts listening on a free loopback port; returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ host: '127.0.0.1', port: 0 });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parsed JSON body of an inject() answer, checked to be an object. */
export function jsonObject(body: string): Record<string, unknown> {
  const value: unknown = JSON.parse(body);
  if (!isRecord(value)) throw new Error(`expected a JSON object, got ${body.slice(0, 200)}`);
  return value;
}

export function arrayOf(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value.filter(isRecord);
}

export const uuidv7Pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
