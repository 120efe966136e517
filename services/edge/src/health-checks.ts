import { collectWorkerStatus, type Bus, type WorkerStatus } from '@vigil/bus';

/** One thing the edge depends on, and whether it answered. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Why the check failed; absent when it passed. */
  readonly error?: string;
  /** Messages in the stream (stream checks only). */
  readonly messages?: number;
}

export interface CheckTimeouts {
  /** Longest wait for NATS or JetStream to answer one probe. */
  readonly probeMs: number;
  /** How long workers have to answer the status request. */
  readonly workersMs: number;
}

export const defaultTimeouts: CheckTimeouts = { probeMs: 1000, workersMs: 300 };

class ProbeTimeout extends Error {}

/** `work`, or a ProbeTimeout after `ms`: a probe must answer even when NATS is unreachable and requests hang. */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Round trip to the NATS server. `rtt()` refuses at once on a closed or disconnected connection, so this is
 * also the connection-state check.
 */
export async function checkNats(bus: Bus, timeouts: CheckTimeouts): Promise<Check> {
  const started = performance.now();
  try {
    if (bus.nc.isClosed()) throw new Error('connection closed');
    await within(timeouts.probeMs, bus.nc.rtt());
    return { name: 'nats', ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { name: 'nats', ok: false, latencyMs: Math.round(performance.now() - started), error: reason(err) };
  }
}

/** Each declared stream exists on the server; the message count comes along for the detailed report. */
export async function checkStreams(bus: Bus, timeouts: CheckTimeouts): Promise<Check[]> {
  return Promise.all(
    bus.streams.map(async (declaration): Promise<Check> => {
      const name = `stream:${declaration.name}`;
      const started = performance.now();
      try {
        const info = await within(timeouts.probeMs, bus.jsm.streams.info(bus.names.stream(declaration.name)));
        return { name, ok: true, latencyMs: Math.round(performance.now() - started), messages: info.state.messages };
      } catch (err) {
        return { name, ok: false, latencyMs: Math.round(performance.now() - started), error: reason(err) };
      }
    }),
  );
}

export interface WorkerChecks {
  readonly workers: WorkerStatus[];
  readonly checks: Check[];
}

/**
 * Asks every worker for its status: each required service must answer, and every worker that owns a database
 * must have applied all the migrations it knows (an older schema would make its projections wrong).
 */
export async function checkWorkers(bus: Bus, required: readonly string[], timeouts: CheckTimeouts): Promise<WorkerChecks> {
  const started = performance.now();
  const workers = await collectWorkerStatus(bus, timeouts.workersMs);
  const latencyMs = Math.round(performance.now() - started);
  const checks: Check[] = [];
  for (const service of required) {
    // A process answers for every service it runs (one, or all of them in `pnpm start`).
    const answered = workers.some((w) => w.service === service || (w.services ?? []).includes(service));
    checks.push(
      answered
        ? { name: `worker:${service}`, ok: true, latencyMs }
        : { name: `worker:${service}`, ok: false, latencyMs, error: `no ${service} worker answered within ${timeouts.workersMs} ms` },
    );
  }
  for (const w of workers) {
    if (!w.migrations) continue;
    const { applied, known } = w.migrations;
    const name = `migrations:${w.service}/${w.instance}`;
    checks.push(
      applied >= known ? { name, ok: true, latencyMs } : { name, ok: false, latencyMs, error: `${applied} of ${known} migrations applied` },
    );
  }
  return { workers, checks };
}

export interface HealthReport {
  readonly ok: boolean;
  readonly checks: Check[];
  readonly workers: WorkerStatus[];
}

/** Every check at once: NATS, the streams, the workers. */
export async function checkHealth(bus: Bus, requiredWorkers: readonly string[], timeouts: CheckTimeouts = defaultTimeouts): Promise<HealthReport> {
  const [nats, streams, workers] = await Promise.all([
    checkNats(bus, timeouts),
    checkStreams(bus, timeouts),
    checkWorkers(bus, requiredWorkers, timeouts),
  ]);
  const checks = [nats, ...streams, ...workers.checks];
  return { ok: checks.every((c) => c.ok), checks, workers: workers.workers };
}
