// What the auditor's and operator's commands connect to: the Vigil of this environment. NATS_URL, else the
// embedded nats-server's store under VIGIL_DATA_DIR; DATABASE_URL, else the embedded PGlite under VIGIL_DATA_DIR.
// PGlite is single-process and so is that store: with the embedded defaults Vigil must be stopped first. The read
// models are those of VIGIL_READ_MODEL_SCHEMA, or of the schema a command names (`--schema`).
import { join } from 'node:path';
import { connectBus, drainBus, startLocalNatsServer, type Bus, type LocalNatsServer } from '@vigil/bus';
import { busSecurityOf } from '@vigil/runtime';
import { loadConfig, type Config } from '@vigil/config';
import { createLogger } from '@vigil/log';
import { openDatabase, type Database } from '@vigil/store';

export interface CliContext {
  readonly config: Config;
  readonly bus: Bus;
  readonly database?: Database;
  close(): Promise<void>;
}

export interface CliContextOptions {
  readonly database: boolean;
  /** The read-model schema to open instead of VIGIL_READ_MODEL_SCHEMA (created and migrated when missing). */
  readonly schema?: string;
  readonly env?: Record<string, string | undefined>;
}

export async function openCliContext(options: CliContextOptions): Promise<CliContext> {
  const config = loadConfig(options.env);
  const logger = createLogger({ service: 'vigil-cli', level: 'warn', destination: process.stderr });
  let localNats: LocalNatsServer | undefined;
  let servers = config.NATS_URL;
  if (!servers) {
    localNats = await startLocalNatsServer({ storeDir: join(config.VIGIL_DATA_DIR, 'nats') });
    servers = [localNats.url];
  }
  const bus = await connectBus({ servers, name: 'vigil-cli', logger, namespace: config.VIGIL_NAMESPACE, ensureStreams: false, ...(localNats ? {} : { security: busSecurityOf(config) }) });
  const database = options.database
    ? await openDatabase({ logger, schema: options.schema ?? config.VIGIL_READ_MODEL_SCHEMA, ...(config.DATABASE_URL ? { url: config.DATABASE_URL, maxConnections: 2 } : { dataDir: join(config.VIGIL_DATA_DIR, 'pglite') }) })
    : undefined;
  return {
    config,
    bus,
    ...(database ? { database } : {}),
    async close() {
      await drainBus(bus);
      await database?.close();
      await localNats?.stop({ keepStore: true });
    },
  };
}
