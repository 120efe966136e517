import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Bus } from '@vigil/bus';
import { loadConfig, type Config } from '@vigil/config';
import { createKekFile, loadKekRing } from '@vigil/crypto';
import { buildEdge } from '@vigil/edge';
import { createLogger, type Logger } from '@vigil/log';
import { startTestBus, type TestBus } from '@vigil/testkit';
import type { FastifyInstance } from 'fastify';
import { createSigningKeysFile, IdentityWorker, identityPolicy, loadSigningKeys } from '../src/index.ts';

/** Every log line of the run, for the scan that proves no secret reached a log. */
export class LogSink {
  text = '';
  readonly stream = new PassThrough();
  constructor() {
    this.stream.on('data', (c: Buffer) => (this.text += c.toString('utf8')));
  }
}

export interface IdentityUnderTest {
  readonly testBus: TestBus;
  readonly config: Config;
  readonly worker: IdentityWorker;
  readonly logs: LogSink;
  readonly logger: Logger;
  /** Starts another identity worker (its own NATS connection, the same keys): a second replica. */
  replica(): Promise<IdentityWorker>;
  /** Starts an edge (its own NATS connection) on a free port; returns its base URL. */
  edge(env?: Record<string, string>): Promise<{ url: string; app: FastifyInstance; bus: Bus }>;
  close(): Promise<void>;
}

export async function startIdentity(env: Record<string, string> = {}): Promise<IdentityUnderTest> {
  const logs = new LogSink();
  const logger = createLogger({ service: 'identity-test', level: 'debug', destination: logs.stream });
  const testBus = await startTestBus({ logger });
  const dir = mkdtempSync(join(tmpdir(), 'identity-'));
  const kekFile = join(dir, 'kek.json');
  const keysFile = join(dir, 'signing.json');
  createKekFile(kekFile);
  createSigningKeysFile(keysFile, 'test1');
  const baseEnv = { VIGIL_NAMESPACE: testBus.bus.names.namespace, VIGIL_HTTP_PORT: '0', VIGIL_AUTH_RATE_LIMIT: '100000', VIGIL_USER_RATE_LIMIT: '100000', ...env };
  const config = loadConfig(baseEnv);
  const workerBus = await testBus.connect('identity', { logger });
  const worker = new IdentityWorker({ bus: workerBus, ring: loadKekRing(kekFile), keys: loadSigningKeys(keysFile), policy: identityPolicy(config), logger });
  await worker.start();
  const apps: FastifyInstance[] = [];
  const replicas: IdentityWorker[] = [];
  return {
    testBus,
    config,
    worker,
    logs,
    logger,
    async replica() {
      const bus = await testBus.connect('identity-replica', { logger });
      const replica = new IdentityWorker({ bus, ring: loadKekRing(kekFile), keys: loadSigningKeys(keysFile), policy: identityPolicy(config), logger });
      await replica.start();
      replicas.push(replica);
      return replica;
    },
    async edge(more = {}) {
      const bus = await testBus.connect('edge', { logger });
      const app = await buildEdge({ config: loadConfig({ ...baseEnv, ...more }), bus, logger, version: '0.0.0-test' });
      apps.push(app);
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      return { url, app, bus };
    },
    async close() {
      for (const app of apps) await app.close();
      for (const replica of replicas) await replica.stop();
      await worker.stop();
      await testBus.close();
    },
  };
}

/** JSON over real HTTP. */
export async function call(url: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : {};
  const record = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.fromEntries(Object.entries(parsed)) : {};
  return { status: res.status, body: record, headers: res.headers };
}

export function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${JSON.stringify(value)}`);
  return value;
}

/** Polls until `check` holds and says how long it took; fails after `ms`. */
export async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`not within ${ms} ms`);
}

/** Every message a stream holds, as stored (JSON text), in order: what the scans for secrets read. */
export async function storedMessages(bus: Bus, name: string): Promise<string[]> {
  const stream = bus.names.stream(name);
  const info = await bus.jsm.streams.info(stream);
  if (info.state.messages === 0) return [];
  const consumer = await bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  const all: string[] = [];
  for await (const m of messages) {
    all.push(m.string());
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return all;
}
