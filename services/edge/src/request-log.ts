import { LogController, type FastifyReply, type FastifyRequest, type onResponseHookHandler } from 'fastify';

/** Route label for requests no route matched: one value, so scanners' URLs never reach logs or metric labels. */
const unmatchedRoute = 'unmatched';

/** The route pattern a request matched (`/auth/sessions/:id`), never its URL, which may carry ids or a query. */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? unmatchedRoute;
}

/** The problem code each refused or failed request was answered with, for its request line (problem.ts sets it). */
const problemCodes = new WeakMap<FastifyRequest, string>();

export function recordProblemCode(request: FastifyRequest, code: string): void {
  problemCodes.set(request, code);
}

/**
 * The one line about a request, written when it completes: what an operator needs to follow it, and nothing the
 * client sent in it — no URL or query string, no header (so no token), no address, no body.
 */
export function requestLogFields(request: FastifyRequest, reply: FastifyReply): Record<string, string | number> {
  const principal = request.principal;
  const code = problemCodes.get(request);
  return {
    request_id: request.id,
    method: request.method,
    route: routeOf(request),
    status: reply.statusCode,
    latency_ms: Math.round(reply.elapsedTime * 100) / 100,
    ...(principal ? { principal_id: principal.userId, tenant: principal.tenant } : {}),
    ...(code ? { code } : {}),
  };
}

/**
 * fastify's own request lines turned off, for the `logController` option of every listener: their lines hold the raw
 * URL and the client's address. `logRequest` writes one line per request instead.
 */
export const withoutFastifyRequestLines = new LogController({ disableRequestLogging: true });

/**
 * The onResponse hook that replaces fastify's own request logging (`withoutFastifyRequestLines`), whose lines hold the
 * raw URL and the client's address. Through `request.log`, so a route's `logLevel` (health probes, metrics scrapes:
 * `warn`) keeps its own requests out of the log.
 */
export const logRequest: onResponseHookHandler = (request, reply, done) => {
  request.log.info(requestLogFields(request, reply), 'request completed');
  done();
};
