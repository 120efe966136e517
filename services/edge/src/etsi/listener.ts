import type { Server } from 'node:https';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Bus } from '@vigil/bus';
import type { Config } from '@vigil/config';
import type { KekRing } from '@vigil/crypto';
import type { Logger } from '@vigil/log';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { requestContextPlugin, requestIdOf } from '../request-context.ts';
import { withoutFastifyRequestLines } from '../request-log.ts';
import { enforceSchemaPolicy } from '../schema-policy.ts';
import { guardClientCertificates } from './certificate-gate.ts';
import { etsiAnswerOf, sendEtsiError, useEtsiErrors } from './etsi-errors.ts';
import { createRefusalReporter, type RefusalReporter } from './refusal-reporter.ts';
import { etsiRoutes } from './routes.ts';
import { ConnectionIdentities } from './sae-identity.ts';
import { createTlsCounters, type TlsCounters } from './tls-counters.ts';
import { httpsOptions, type TlsMaterial } from './tls-material.ts';

/**
 * Largest request body, in bytes: a Key IDs request of about 1,200 key IDs. Machine-to-machine requests are small;
 * a slave that needs more keys at once sends several requests. Larger bodies get 400 (the ETSI tables allow no 413).
 */
export const etsiBodyLimit = 64 * 1024;

export interface EtsiListenerOptions {
  readonly config: Config;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly tls: TlsMaterial;
  /** Opens the keys the KME worker sends sealed. */
  readonly ring: KekRing;
  /** Cap of CertificateRejected reports on AUDIT (default 10 per second, bursts of 20). */
  readonly audit?: { readonly reportsPerSecond?: number; readonly burst?: number };
}

export interface EtsiListener {
  readonly app: FastifyInstance<Server>;
  readonly counters: TlsCounters;
  readonly reporter: RefusalReporter;
}

/**
 * The ETSI GS QKD 014 API on its own HTTPS server with mutual TLS: separate from the edge's HTTP API (its own
 * port, TLS, errors in the ETSI format, no browser-facing headers), not yet listening.
 */
export async function buildEtsiListener(options: EtsiListenerOptions): Promise<EtsiListener> {
  const { config, bus } = options;
  const logger = options.logger.child({ listener: 'etsi' });
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    https: httpsOptions(options.tls),
    loggerInstance,
    bodyLimit: etsiBodyLimit,
    keepAliveTimeout: 30_000,
    genReqId: requestIdOf,
    // One line per request, from the request context (request-log.ts), never fastify's with the raw URL.
    logController: withoutFastifyRequestLines,
    exposeHeadRoutes: false,
    // A percent-encoded 128-character SAE_ID may take three times its length in the URL.
    routerOptions: { maxParamLength: 3 * 128 },
    frameworkErrors: (error, _request, reply) => {
      sendEtsiError(reply, etsiAnswerOf(error, etsiBodyLimit));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.addHook('onRoute', enforceSchemaPolicy);

  // JSON only (Table 1). An empty body is no body (an empty Key request); anything else is parsed as strictly as
  // fastify's own parser does, proto poisoning refused.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') done(null, undefined);
    else json(request, text, done);
  });

  const counters = createTlsCounters();
  const reporter = createRefusalReporter({
    bus,
    logger,
    listener: () => {
      const address = app.server.address();
      return `etsi ${typeof address === 'object' && address ? `${address.address}:${address.port}` : `${config.VIGIL_ETSI_HOST}:${config.VIGIL_ETSI_PORT}`}`;
    },
    counters,
    ...options.audit,
  });
  guardClientCertificates(app.server, reporter, counters, logger);
  const identities = new ConnectionIdentities(config.VIGIL_SAE_ID_FROM, (refusal) => reporter.report(refusal));

  useEtsiErrors(app, etsiBodyLimit);
  await app.register(requestContextPlugin);
  await app.register(etsiRoutes, { bus, ring: options.ring, identities, timeoutMs: config.VIGIL_REQUEST_TIMEOUT_MS });
  app.addHook('onClose', async () => reporter.flush());
  return { app, counters, reporter };
}
