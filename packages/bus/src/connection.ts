import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@vigil/log';
import { type EventRegistry, vigilEvents } from '@vigil/schemas';
import { BusNames } from './names.ts';
import { ensureStreams, streamDeclarations, type StreamDeclaration } from './streams.ts';

export interface BusOptions {
  /** NATS server URLs (a cluster may list several). */
  readonly servers: readonly string[];
  /** The connection's name as the server shows it. */
  readonly name: string;
  readonly logger: Logger;
  readonly namespace?: string;
  readonly registry?: EventRegistry;
  /** Replicas for streams this process creates. */
  readonly streamReplicas?: number;
  /** Create or update the streams at connect (default true). */
  readonly ensureStreams?: boolean;
  readonly streams?: readonly StreamDeclaration[];
  /** TLS and credentials for a NATS that requires them (every deployment but a laptop should). */
  readonly security?: BusSecurity;
}

/**
 * How a process proves itself to NATS and protects what it sends: tokens, TOTP enrolment secrets and sealed key
 * containers travel on the bus, so outside one machine the connection should be TLS (mutual, with a client
 * certificate, where the server asks for one) and authenticated.
 */
export interface BusSecurity {
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly user?: string;
  readonly password?: string;
}

/** A connection to NATS with JetStream, the namespace it works in and the events it knows. */
export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: BusNames;
  readonly registry: EventRegistry;
  readonly logger: Logger;
  readonly streams: readonly StreamDeclaration[];
  /** The server's version, to detect features newer than 2.9 without requiring them. */
  readonly serverVersion: string;
}

/**
 * Connects for good: the client reconnects without limit (workers must outlive a NATS restart), and every
 * status change is logged once so an operator sees the outage and the recovery.
 */
export async function connectBus(options: BusOptions): Promise<Bus> {
  const logger = options.logger.child({ component: 'bus' });
  const nc = await connect({
    servers: [...options.servers],
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
    waitOnFirstConnect: false,
    // nats.js otherwise makes two Error objects per request, only for their stacks, to enrich a timeout: about 7% of
    // the main thread's time in a refresh. `request` names the subject in its own errors (NoWorkerError, WorkerTimeoutError).
    noAsyncTraces: true,
    ...(options.security?.tls ? { tls: { ...options.security.tls } } : {}),
    ...(options.security?.user !== undefined ? { user: options.security.user, pass: options.security.password ?? '' } : {}),
  });
  void watchStatus(nc, logger);
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const names = new BusNames(options.namespace ?? '');
  const streams = options.streams ?? streamDeclarations;
  if (options.ensureStreams !== false) {
    const outcomes = await ensureStreams(jsm, names, options.streamReplicas ?? 1, streams);
    for (const o of outcomes) {
      if (o.action !== 'unchanged') logger.info({ stream: o.name, drift: o.drift }, `stream ${o.action}`);
    }
  }
  const serverVersion = nc.info?.version ?? 'unknown';
  logger.info({ server: nc.getServer(), server_version: serverVersion }, 'connected to NATS');
  return { nc, js, jsm, names, registry: options.registry ?? vigilEvents, logger, streams, serverVersion };
}

async function watchStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'disconnect':
        logger.warn({ server: s.server }, 'disconnected from NATS; reconnecting');
        break;
      case 'reconnect':
        logger.info({ server: s.server }, 'reconnected to NATS');
        break;
      case 'error':
        logger.error({ err: s.error }, 'NATS connection error');
        break;
      case 'slowConsumer':
        logger.warn({ sub: s.sub.getSubject() }, 'slow NATS subscription');
        break;
      default:
        break;
    }
  }
}

/** Stops taking messages, lets in-flight handlers finish and acks go out, then closes. */
export async function drainBus(bus: Bus): Promise<void> {
  if (!bus.nc.isClosed()) await bus.nc.drain();
}
