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
