import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectBus, drainBus, NatsServerMissingError, serveWorkerStatus, startLocalNatsServer, type Bus, type LocalNatsServer, type WorkerStatus } from '@vigil/bus';
import { ConfigError, loadConfig, type Config } from '@vigil/config';
import { createLogger, type Logger } from '@vigil/log';
import { migrationStatus, openDatabase, type Database } from '@vigil/store';
import { busSecurityOf } from './bus-security.ts';
import type { ServiceModule, StartedService } from './service.ts';

export interface ProcessOptions {
  /** Start a local nats-server when NATS_URL is unset (the one-process laptop mode); otherwise NATS_URL is required. */
  readonly embeddedNats: boolean;
  /** The environment to read; defaults to `.env` and process.env. */
  readonly env?: Record<string, string | undefined>;
  /** Open the database even when no module asks for it: the one-process mode owns the read models. */
  readonly ownsDatabase?: boolean;
  /** Log destination (tests). */
  readonly destination?: NodeJS.WritableStream;
}

export interface RunningProcess {
  readonly config: Config;
  readonly bus: Bus;
  readonly database?: Database;
  readonly services: readonly { readonly module: ServiceModule; readonly started: StartedService }[];
  /** Stops every service (in reverse order), drains the bus, closes the database and the local NATS. */
  stop(): Promise<void>;
}

/** Vigil's version, from the root package.json. */
export const vigilVersion: string = (() => {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** A start-up failure that deserves one clear line, not a stack trace. */
export class StartupError extends Error {}

/**
 * Starts services in one process: configuration, logging, the bus (streams ensured), the database when a service
 * owns read models, the worker status every edge asks for, then each service in order.
 */
export async function startProcess(name: string, modules: readonly ServiceModule[], options: ProcessOptions): Promise<RunningProcess> {
  let config: Config;
  try {
    config = loadConfig(options.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(err.message);
    throw err;
  }
  const logger = createLogger({ service: name, instance: config.VIGIL_INSTANCE, level: config.LOG_LEVEL, ...(options.destination ? { destination: options.destination } : {}) });
  const started = Date.now();
  let localNats: LocalNatsServer | undefined;
  let servers = config.NATS_URL;
  if (!servers) {
    if (!options.embeddedNats) throw new StartupError('NATS_URL is required when a service runs on its own (e.g. NATS_URL=nats://127.0.0.1:4222)');
    try {
      // Kept under the data directory, beside PGlite: the streams are the truth the projections were built from.
      localNats = await startLocalNatsServer({ storeDir: join(config.VIGIL_DATA_DIR, 'nats') });
    } catch (err) {
      if (err instanceof NatsServerMissingError) throw new StartupError(err.message);
      throw err;
    }
    servers = [localNats.url];
    logger.info({ url: localNats.url, store: localNats.storeDir }, 'started a local nats-server');
  }
  let bus: Bus;
  try {
    bus = await connectBus({
      servers,
      name: `${name}:${config.VIGIL_INSTANCE}`,
      logger,
      namespace: config.VIGIL_NAMESPACE,
      streamReplicas: config.NATS_STREAM_REPLICAS,
      // A local nats-server started here listens on loopback only, without TLS.
      ...(localNats ? {} : { security: busSecurityOf(config) }),
    });
  } catch (err) {
    await localNats?.stop({ keepStore: true });
    throw new StartupError(`cannot connect to NATS at ${servers.join(', ')}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const needsDatabase = options.ownsDatabase === true || modules.some((m) => m.usesDatabase);
  const database = needsDatabase
    ? await openDatabase({
        logger,
        schema: config.VIGIL_READ_MODEL_SCHEMA,
        ...(config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: join(config.VIGIL_DATA_DIR, 'pglite') }),
      })
    : undefined;
  const services: { module: ServiceModule; started: StartedService }[] = [];
  const stopAll = async () => {
    for (const s of [...services].reverse()) {
      try {
        await s.started.stop();
      } catch (err) {
        logger.error({ err, service: s.module.name }, 'service did not stop cleanly');
      }
    }
  };
  try {
    for (const module of modules) {
      const context = {
        config,
        logger: logger.child({ component: module.name }),
        bus,
        instance: config.VIGIL_INSTANCE,
        version: vigilVersion,
        ...(module.usesDatabase && database ? { database } : {}),
      };
      services.push({ module, started: await module.start(context) });
    }
  } catch (err) {
    await stopAll();
    await drainBus(bus).catch(() => {});
    await database?.close();
    await localNats?.stop({ keepStore: true });
    throw err;
  }
  const status = workerStatusOf(name, config, database, services, started);
  // Workers answer the edge's status requests; an edge alone has nothing to report.
  const responder = database || modules.some((m) => m.name !== 'edge') ? serveWorkerStatus(bus, status) : undefined;
  // Started means served: one round trip so the server has every subscription before anyone is told we are up.
  await bus.nc.flush();
  return {
    config,
    bus,
    services,
    ...(database ? { database } : {}),
    async stop() {
      await responder?.stop();
      await stopAll();
      await drainBus(bus);
      await database?.close();
      await localNats?.stop({ keepStore: true });
    },
  };
}

function workerStatusOf(
  name: string,
  config: Config,
  database: Database | undefined,
  services: readonly { module: ServiceModule; started: StartedService }[],
  startedAt: number,
): () => Promise<WorkerStatus> {
  return async () => {
    const projections = await Promise.all(services.flatMap((s) => (s.started.projections ?? []).map(async (p) => ({ name: p.name, ...(await p.lag()) }))));
    const details: Record<string, unknown> = {};
    for (const s of services) if (s.started.details) details[s.module.name] = await s.started.details();
    let db: WorkerStatus['database'];
    let migrations: WorkerStatus['migrations'];
    if (database) {
      try {
        db = { kind: database.kind, latencyMs: await database.ping() };
        migrations = await migrationStatus(database);
      } catch (err) {
        db = { kind: database.kind, latencyMs: null, error: err instanceof Error ? err.message : String(err) };
      }
    }
    return {
      service: name,
      services: services.map((s) => s.module.name),
      instance: config.VIGIL_INSTANCE,
      version: vigilVersion,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      ...(db ? { database: db } : {}),
      ...(migrations ? { migrations } : {}),
      projections,
      details,
    };
  };
}

/**
 * Runs a process until SIGINT or SIGTERM, then drains: stop taking requests, finish in-flight work, ack, close.
 * Exits 0 after a clean stop, 1 when start-up fails (with one line when the cause is the operator's to fix).
 */
export async function runUntilSignal(name: string, modules: readonly ServiceModule[], options: ProcessOptions, banner: (p: RunningProcess) => void): Promise<void> {
  let running: RunningProcess;
  try {
    running = await startProcess(name, modules, options);
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`vigil: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  banner(running);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    running.bus.logger.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      process.stderr.write('vigil: did not stop within 10 s; exiting\n');
      process.exit(1);
    }, 10_000);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`vigil: error while stopping: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export type { Logger };
