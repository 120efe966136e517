import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Prints one benchmark result as a JSON line (what `pnpm bench` collects). */
export function emitBenchLine(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

/** Runs `one(i)` for every i < n with at most `window` in flight; returns completions per second. */
export async function pipelined(n: number, window: number, one: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < n) await one(next++);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

/**
 * CPU seconds (user + system) a process has used, or one thread of it (`thread`: its id; a process's main thread has
 * the process's id), from /proc: Linux only, undefined elsewhere or once it is gone. Benches use it to say where the
 * CPU of what they measure went.
 */
export function cpuSecondsOf(pid: number | undefined, thread?: number): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The process id of the nats-server startTestNats started for this URL (by its port), or undefined. */
export function natsServerPid(url: string): number | undefined {
  const port = new URL(url).port;
  const found = spawnSync('pgrep', ['-f', `nats-server -js -a 127.0.0.1 -p ${port} `], { encoding: 'utf8' }).stdout?.trim().split('\n')[0];
  return found ? Number(found) : undefined;
}
