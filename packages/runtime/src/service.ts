import type { Bus } from '@vigil/bus';
import type { Config } from '@vigil/config';
import type { Logger } from '@vigil/log';
import type { Database, RunningProjector } from '@vigil/store';

/** What a service gets from the process that runs it. */
export interface ServiceContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly bus: Bus;
  /** Present for services that declare `usesDatabase`; the edge never gets one. */
  readonly database?: Database;
  readonly instance: string;
  readonly version: string;
}

export interface StartedService {
  /** Where it listens, for the start-up banner ("edge http://127.0.0.1:8080"). */
  readonly endpoints?: readonly string[];
  readonly projections?: readonly RunningProjector[];
  /** Service-specific health (QKD links, MQTT listeners, ...), reported in /health/detailed. */
  details?(): Promise<Record<string, unknown>>;
  /** Stops taking work, finishes what is in progress. */
  stop(): Promise<void>;
}

/** One service of Vigil: the same module runs alone in its own process or with the others in `pnpm start`. */
export interface ServiceModule {
  readonly name: string;
  /** Owns read models: the process opens the database (and applies migrations) for it. */
  readonly usesDatabase: boolean;
  start(context: ServiceContext): Promise<StartedService>;
}
