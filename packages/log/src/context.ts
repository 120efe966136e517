import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line and event of one unit of work shares: the id that ties an HTTP request to its bus hops. */
export interface WorkContext {
  readonly correlationId: string;
  readonly requestId?: string;
}

const storage = new AsyncLocalStorage<WorkContext>();

/** Runs `fn` with `context` visible to every log line and bus message it causes, across awaits. */
export function withContext<T>(context: WorkContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentContext(): WorkContext | undefined {
  return storage.getStore();
}
