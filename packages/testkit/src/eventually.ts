import { setTimeout as sleep } from 'node:timers/promises';

/** What was read last, for the failure: JSON where it can be (not undefined, nor a client object with cycles). */
function shown(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, 500);
  } catch {
    return String(value);
  }
}

/**
 * Reads until `check` accepts the value, and answers it; past `timeoutMs` fails with what was read last. For what a
 * test waits on that another process brings about (a projection, a broker, a restarted server).
 */
export async function eventually<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > until) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${shown(value)})`);
    await sleep(50);
  }
}
