import { headers as natsHeaders, type Msg, type Subscription } from '@nats-io/transport-node';
import { uuidv7 } from '@vigil/crypto';
import { currentContext, withContext } from '@vigil/log';
import type { Actor } from '@vigil/schemas';
import type { Bus } from './connection.ts';
import { InternalError, isVigilError, NoWorkerError, rehydrateError, WorkerTimeoutError } from './errors.ts';
import { perConnection } from './per-connection.ts';
import { ReplyInbox, ReplyTimeoutError } from './reply-inbox.ts';

/** The header that carries the correlation id across every bus hop. */
export const correlationHeader = 'Vigil-Correlation-Id';

/** Who asks: set by the edge from the authenticated principal, never from a request body. */
export interface Caller {
  readonly actor: Actor;
  readonly tenant?: string;
  /** SHA-256 (hex) of the client certificate that authenticated the caller, when it used mutual TLS. */
  readonly certificateSha256?: string;
}

export interface BusRequest<T> {
  readonly data: T;
  readonly caller?: Caller;
  readonly correlationId: string;
}

type Reply =
  | { ok: true; result: unknown; seq?: number }
  | { ok: false; error: { code: string; message: string; details?: readonly unknown[] } };

export interface ServeOptions<T, R> {
  /** A plain subject: `cmd.<domain>.<action>` or `qry.<domain>.<name>`. */
  readonly subject: string;
  /** Queue group; replicas in one group share the load. Default: the subject. */
  readonly queue?: string;
  /** Checks the request data; throw a declared error (such as BadRequestError) to refuse it. */
  readonly parse: (data: unknown) => T;
  readonly handle: (request: BusRequest<T>) => Promise<R>;
}

export interface Served {
  readonly subject: string;
  /** Stops taking requests and waits for those in progress to be answered. */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Answers requests on a subject. Each request runs in its own work context (its correlation id on every log
 * line and event it causes); errors declared with defineError travel back as themselves, anything else is
 * logged here and answered as VGL_INTERNAL so no internal detail leaks to a caller.
 */
export function serve<T, R>(bus: Bus, options: ServeOptions<T, R>): Served {
  const logger = bus.logger.child({ subject: options.subject });
  const inFlight = new Set<Promise<void>>();
  const answer = async (msg: Msg): Promise<void> => {
    const correlationId = msg.headers?.get(correlationHeader) || uuidv7();
    await withContext({ correlationId }, async () => {
      let reply: Reply;
      try {
        const body: unknown = JSON.parse(decoder.decode(msg.data));
        if (!isRecord(body)) throw new InternalError();
        const caller = isRecord(body['caller']) ? parseCaller(body['caller']) : undefined;
        const data = options.parse(body['data']);
        const result = await options.handle({ data, correlationId, ...(caller ? { caller } : {}) });
        reply = { ok: true, result };
      } catch (err) {
        if (isVigilError(err)) {
          reply = { ok: false, error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
        } else {
          logger.error({ err }, 'request handler failed');
          reply = { ok: false, error: { code: 'VGL_INTERNAL', message: 'internal error' } };
        }
      }
      if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
    });
  };
  const sub: Subscription = bus.nc.subscribe(bus.names.subject(options.subject), {
    queue: bus.names.subject(options.queue ?? options.subject),
    callback: (err, msg) => {
      if (err) {
        logger.error({ err }, 'subscription failed');
        return;
      }
      const p = answer(msg).finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
  });
  return {
    subject: options.subject,
    async stop() {
      if (!sub.isClosed()) await sub.drain();
      await Promise.allSettled([...inFlight]);
    },
  };
}

function parseCaller(value: Record<string, unknown>): Caller | undefined {
  const actor = value['actor'];
  if (!isRecord(actor) || typeof actor['id'] !== 'string' || typeof actor['kind'] !== 'string') return undefined;
  const kinds = ['user', 'api_key', 'sae', 'device', 'service', 'system'] as const;
  const kind = kinds.find((k) => k === actor['kind']);
  if (!kind) return undefined;
  const tenant = value['tenant'];
  const certificate = value['certificateSha256'];
  return {
    actor: { kind, id: actor['id'] },
    ...(typeof tenant === 'string' ? { tenant } : {}),
    ...(typeof certificate === 'string' ? { certificateSha256: certificate } : {}),
  };
}

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly caller?: Caller;
}

/**
 * One reply inbox per connection for `request`, closed with it: nats.js's request made a deferred, a timer and an
 * error object (to cancel the timer) per request, about 6% of the main thread in a refresh.
 */
const inboxOf = perConnection((bus) => new ReplyInbox(bus.nc));

/**
 * Sends a command or query and returns its result. A declared error thrown by the handler is thrown here as the
 * same class; no worker → NoWorkerError (503); no answer in time → WorkerTimeoutError (504).
 */
export async function request(bus: Bus, subject: string, data: unknown, options: RequestOptions): Promise<unknown>;
export async function request<R>(bus: Bus, subject: string, data: unknown, options: RequestOptions & { parse: (result: unknown) => R }): Promise<R>;
export async function request(
  bus: Bus,
  subject: string,
  data: unknown,
  options: RequestOptions & { parse?: (result: unknown) => unknown },
): Promise<unknown> {
  const correlationId = currentContext()?.correlationId ?? uuidv7();
  const h = natsHeaders();
  h.set(correlationHeader, correlationId);
  let msg: Msg;
  try {
    msg = await inboxOf(bus).ask(bus.names.subject(subject), encoder.encode(JSON.stringify({ data, caller: options.caller })), {
      timeoutMs: options.timeoutMs,
      headers: h,
    });
  } catch (err) {
    if (err instanceof ReplyTimeoutError) throw new WorkerTimeoutError(subject, String(options.timeoutMs), { cause: err });
    throw err;
  }
  // No one serves the subject: the server answers at once with a 503 status.
  if (msg.headers?.code === 503) throw new NoWorkerError(subject);
  const reply: unknown = JSON.parse(decoder.decode(msg.data));
  if (!isRecord(reply)) throw new InternalError();
  if (reply['ok'] === true) return options.parse ? options.parse(reply['result']) : reply['result'];
  const error = reply['error'];
  if (!isRecord(error) || typeof error['code'] !== 'string' || typeof error['message'] !== 'string') throw new InternalError();
  const details = Array.isArray(error['details']) ? error['details'] : undefined;
  throw rehydrateError(error['code'], error['message'], details);
}
