import { randomBytes } from 'node:crypto';
import { connectBus, startLocalNatsServer, type Bus, type BusOptions } from '@vigil/bus';
import { createLogger, type Logger } from '@vigil/log';
import { dockerAnswers } from './docker.ts';

export interface TestNats {
  readonly url: string;
  /** How it was found: the NATS_URL given, a container, or a nats-server spawned from PATH. */
  readonly source: 'env' | 'container' | 'spawned';
  stop(): Promise<void>;
}

/**
 * A real NATS with JetStream for one test file: NATS_URL when set, else a container when a Docker engine
 * answers, else `nats-server -js` from PATH on a free port with a temporary store.
 */
export async function startTestNats(): Promise<TestNats> {
  const fromEnv = process.env['NATS_URL'];
  if (fromEnv) return { url: fromEnv, source: 'env', stop: async () => {} };
  if (await dockerAnswers()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('nats:2.10-alpine')
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage('Server is ready'))
      .start();
    return {
      url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`,
      source: 'container',
      stop: async () => {
        await container.stop();
      },
    };
  }
  const server = await startLocalNatsServer();
  return { url: server.url, source: 'spawned', stop: () => server.stop() };
}

/** A namespace no other test file uses, so files sharing one NATS never see each other's streams. */
export function testNamespace(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export function testLogger(service = 'test'): Logger {
  return createLogger({ service, level: process.env['TEST_LOG_LEVEL'] === undefined ? 'silent' : (process.env['TEST_LOG_LEVEL'] ?? 'silent') });
}

export interface TestBus {
  readonly bus: Bus;
  readonly nats: TestNats;
  /** Connects another client to the same NATS and namespace (another replica, another edge). */
  connect(name: string, options?: Partial<BusOptions>): Promise<Bus>;
  /** Deletes the namespace's streams, closes every client and stops the server this file started. */
  close(): Promise<void>;
}

export async function startTestBus(options: Partial<BusOptions> = {}): Promise<TestBus> {
  const nats = await startTestNats();
  const namespace = options.namespace ?? testNamespace();
  const clients: Bus[] = [];
  const connect = async (name: string, more: Partial<BusOptions> = {}) => {
    const bus = await connectBus({ servers: [nats.url], name, logger: testLogger(name), namespace, ...options, ...more });
    clients.push(bus);
    return bus;
  };
  const bus = await connect('test');
  return {
    bus,
    nats,
    connect,
    async close() {
      if (!bus.nc.isClosed()) {
        for (const s of bus.streams) await bus.jsm.streams.delete(bus.names.stream(s.name)).catch(() => false);
      }
      for (const c of clients) if (!c.nc.isClosed()) await c.nc.close();
      await nats.stop();
    },
  };
}
