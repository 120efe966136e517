import createError, { type FastifyErrorConstructor } from '@fastify/error';

/** An error that crosses the bus: a stable code, the HTTP status the edge answers with, and optional details. */
export interface VigilError extends Error {
  readonly code: string;
  readonly statusCode: number;
  details?: readonly unknown[];
}

export type VigilErrorClass = FastifyErrorConstructor<{ code: string; statusCode: number }, unknown[]>;

const known = new Map<string, VigilErrorClass>();

/**
 * Declares an error once, by code. Declared errors thrown by a command or query handler reach the caller as the
 * same class, so `instanceof` works across the bus and the edge maps the code to HTTP in one place.
 */
export function defineError(code: string, message: string, statusCode: number): VigilErrorClass {
  if (known.has(code)) throw new Error(`error ${code} is declared twice`);
  const ErrorClass = createError<string, number, unknown[]>(code, message, statusCode);
  known.set(code, ErrorClass);
  return ErrorClass;
}

export function isVigilError(err: unknown): err is VigilError {
  return (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    'statusCode' in err &&
    typeof err.statusCode === 'number' &&
    known.has(err.code)
  );
}

/** Rebuilds an error that came back over the bus; codes this process does not know become RemoteError. */
export function rehydrateError(code: string, message: string, details: readonly unknown[] | undefined): VigilError {
  const ErrorClass = known.get(code) ?? RemoteError;
  const err: VigilError = new ErrorClass();
  err.message = message;
  if (details) err.details = details;
  if (ErrorClass === RemoteError) Object.defineProperty(err, 'remoteCode', { value: code, enumerable: true });
  return err;
}

export const ConcurrencyError = defineError(
  'VGL_CONCURRENCY',
  'the aggregate %s changed since it was read (expected last sequence %s)',
  409,
);
export const InvalidEventError = defineError('VGL_INVALID_EVENT', 'event %s is invalid: %s', 500);
export const RemoteError = defineError('VGL_REMOTE', 'a worker failed', 500);
export const InternalError = defineError('VGL_INTERNAL', 'internal error', 500);
export const NoWorkerError = defineError('VGL_NO_WORKER', 'no worker is serving %s', 503);
export const WorkerTimeoutError = defineError('VGL_WORKER_TIMEOUT', 'no answer from %s within %s ms', 504);
export const BadRequestError = defineError('VGL_BAD_REQUEST', 'bad request: %s', 400);
export const StreamConfigError = defineError('VGL_STREAM_CONFIG', 'stream %s: %s', 500);
