// Closed-loop HTTP load for the benches: `concurrency` clients, each sending its next request when the last answered.
import { request, type Agent } from 'undici';

export interface HttpLoad {
  readonly seconds: number;
  readonly concurrency: number;
  readonly agent: Agent;
}

export interface HttpRequestSpec {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body (sent with its content type). */
  readonly json?: string;
}

/** Requests/s counts answered requests only (a 503 of an empty pool is not throughput); errors are reported beside. */
export async function httpLoad(load: HttpLoad, url: string, spec: HttpRequestSpec = {}) {
  const latencies: number[] = [];
  const end = performance.now() + load.seconds * 1000;
  const headers = { ...spec.headers, ...(spec.json ? { 'content-type': 'application/json' } : {}) };
  let errors = 0;
  await Promise.all(
    Array.from({ length: load.concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const res = await request(url, { method: spec.method ?? 'GET', dispatcher: load.agent, headers, ...(spec.json ? { body: spec.json } : {}) });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200) errors++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => +(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2);
  return { rps: (latencies.length - errors) / load.seconds, p50: pct(0.5), p99: pct(0.99), errors };
}
