// Container healthcheck for the edge, in plain Node (the slim image has neither curl nor wget).
// Usage: node deploy/healthcheck.mjs [path]   (default /health/ready). Exit 0 when the edge answers 2xx.
const path = process.argv[2] ?? '/health/ready';
const port = process.env.VIGIL_HTTP_PORT || '8080';
try {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
