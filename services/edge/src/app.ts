import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Bus } from '@vigil/bus';
import type { Config } from '@vigil/config';
import type { Logger } from '@vigil/log';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { auditRoutes } from './audit/index.ts';
import { deviceRoutes } from './devices/index.ts';
import { healthRoutes } from './health.ts';
import { identityPlugin } from './identity/index.ts';
import { kmeTopologyRoutes } from './kme/topology-routes.ts';
import { metricsPlugin } from './metrics.ts';
import { openapiPlugin } from './openapi.ts';
import { classifyError, problemPlugin, sendProblem } from './problem.ts';
import { requestContextPlugin, requestIdOf } from './request-context.ts';
import { withoutFastifyRequestLines } from './request-log.ts';
import { enforceSchemaPolicy } from './schema-policy.ts';
import { securityPlugin } from './security.ts';

export interface EdgeOptions {
  readonly config: Config;
  readonly bus: Bus;
  readonly logger: Logger;
  /** The version the edge reports in health and the OpenAPI document. */
  readonly version: string;
}

/**
 * The edge's HTTP application, not yet listening: the caller may register more routes (they get the same error
 * handling, request context, metrics and schema policy), then `listen` or `inject`.
 */
export async function buildEdge(options: EdgeOptions): Promise<FastifyInstance> {
  const { config, bus, logger, version } = options;
  const bodyLimit = config.VIGIL_HTTP_BODY_LIMIT;
  // Seen as fastify's base logger type, so the instance is a plain FastifyInstance that callers can pass around.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit,
    trustProxy: config.VIGIL_TRUST_PROXY,
    genReqId: requestIdOf,
    // fastify's own two lines per request hold the raw URL (query string included) and the client's address; the
    // request context logs one line on completion instead (request-log.ts).
    logController: withoutFastifyRequestLines,
    // Errors fastify meets before routing (a malformed URL) get the same problem+json as every other error.
    frameworkErrors: (error, request, reply) => {
      sendProblem(request, reply, classifyError(error, bodyLimit));
    },
  });
  // TypeBox checks requests: a body is checked as sent (no type coercion, nothing silently removed) and every
  // problem is reported, not only the first; query strings and params are still converted from text.
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.addHook('onRoute', enforceSchemaPolicy);
  await app.register(requestContextPlugin);
  await app.register(problemPlugin, { bodyLimit });
  await app.register(securityPlugin, { corsOrigins: config.VIGIL_CORS_ORIGINS });
  await app.register(openapiPlugin, { version });
  await app.register(metricsPlugin, { bus });
  await app.register(healthRoutes, { prefix: '/health', bus, version, requiredWorkers: config.VIGIL_READY_WORKERS });
  await app.register(identityPlugin, { config, bus, logger });
  await app.register(auditRoutes, { bus, timeoutMs: config.VIGIL_REQUEST_TIMEOUT_MS });
  await app.register(deviceRoutes, { bus, timeoutMs: config.VIGIL_REQUEST_TIMEOUT_MS });
  await app.register(kmeTopologyRoutes, { bus, timeoutMs: config.VIGIL_REQUEST_TIMEOUT_MS });
  return app;
}
