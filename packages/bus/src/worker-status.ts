import type { Bus } from './connection.ts';

/** What each worker process says of itself when the edge asks for readiness and detailed health. */
export interface WorkerStatus {
  readonly service: string;
  readonly instance: string;
  readonly version: string;
  /** The services this process runs (one, or all of them in `pnpm start`). */
  readonly services?: readonly string[];
  readonly uptimeSeconds: number;
  /** Present on processes that own the read-model database. */
  readonly database?: { readonly kind: string; readonly latencyMs: number | null; readonly error?: string };
  readonly migrations?: { readonly known: number; readonly applied: number };
  readonly projections?: readonly { readonly name: string; readonly checkpoint: number; readonly pending: number | null; readonly active: boolean }[];
  /** Anything else the service reports (QKD link status, MQTT listeners, ...). */
  readonly details?: Record<string, unknown>;
}

/** Every worker answers on this subject, without a queue group, so one request reaches them all. */
export const workerStatusSubject = 'sys.status';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface StatusResponder {
  stop(): Promise<void>;
}

export function serveWorkerStatus(bus: Bus, report: () => Promise<WorkerStatus>): StatusResponder {
  const sub = bus.nc.subscribe(bus.names.subject(workerStatusSubject), {
    callback: (err, msg) => {
      if (err) return;
      report().then(
        (status) => msg.respond(encoder.encode(JSON.stringify(status))),
        (e: unknown) => bus.logger.error({ err: e }, 'status report failed'),
      );
    },
  });
  return {
    async stop() {
      if (!sub.isClosed()) await sub.drain();
    },
  };
}

function isWorkerStatus(value: unknown): value is WorkerStatus {
  return (
    typeof value === 'object' &&
    value !== null &&
    'service' in value &&
    typeof value.service === 'string' &&
    'instance' in value &&
    typeof value.instance === 'string'
  );
}

/** Asks every worker for its status and gathers the answers that arrive within `maxWaitMs`. */
export async function collectWorkerStatus(bus: Bus, maxWaitMs: number): Promise<WorkerStatus[]> {
  const answers: WorkerStatus[] = [];
  try {
    const replies = await bus.nc.requestMany(bus.names.subject(workerStatusSubject), undefined, { strategy: 'timer', maxWait: maxWaitMs });
    for await (const m of replies) {
      const value: unknown = JSON.parse(decoder.decode(m.data));
      if (isWorkerStatus(value)) answers.push(value);
    }
  } catch {
    // No responders: no worker is up, which the caller reports.
  }
  return answers;
}
