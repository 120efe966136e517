import type { Bus } from '@vigil/bus';
import type { Config } from '@vigil/config';
import type { Logger } from '@vigil/log';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { AccessTokenVerifier } from './access-token-verifier.ts';
import { ApiKeyDirectory } from './api-key-directory.ts';
import { LastUseRecorder } from './api-key-last-use.ts';
import { PrincipalRateLimiter } from './principal-rate-limiter.ts';
import { authenticationPlugin } from './authentication.ts';
import { RevocationList } from './revocation-list.ts';
import { RoleCatalogs } from './role-catalogs.ts';
import { TenantStatus } from './tenant-status.ts';
import { identityRoutes } from './routes.ts';
import './principal.ts';

export interface IdentityEdgeOptions {
  readonly config: Config;
  readonly bus: Bus;
  readonly logger: Logger;
}

/**
 * Identity at the edge: authentication (access tokens and API keys) and permissions for every later route, the
 * revocation, API key, tenant (suspensions, plans) and custom role feeds, the routes.
 */
const identity: FastifyPluginAsync<IdentityEdgeOptions> = async (app, { config, bus, logger }) => {
  const roles = new RoleCatalogs({ bus, logger });
  const verifier = new AccessTokenVerifier({
    bus,
    logger,
    issuer: config.VIGIL_JWT_ISSUER,
    audience: config.VIGIL_JWT_AUDIENCE,
    timeoutMs: config.VIGIL_REQUEST_TIMEOUT_MS,
    permissionsOf: (tenant, held) => roles.permissionsOf(tenant, held),
  });
  const revocations = new RevocationList({ bus, logger, accessTokenMs: config.VIGIL_ACCESS_TOKEN_SECONDS * 1000 });
  // Refusals by `busy` or `not_recent` that climb mean made-up keys (or a view that cannot keep up), before anyone
  // reports a key that did not work.
  const lookups = new Counter({
    name: 'vigil_edge_api_key_lookups_total',
    help: 'API key ids this edge did not hold, by what became of them: read (found, absent) or refused without a read (known_absent, not_recent, busy, behind).',
    labelNames: ['outcome'] as const,
    registers: [app.metricsRegistry],
  });
  const apiKeys = new ApiKeyDirectory({ bus, logger, onLookup: (outcome) => lookups.inc({ outcome }) });
  const tenants = new TenantStatus({ bus, logger });
  await Promise.all([revocations.start(), apiKeys.start(), tenants.start(), roles.start()]);
  verifier.start();
  app.addHook('onClose', async () => {
    verifier.stop();
    await Promise.all([revocations.stop(), apiKeys.stop(), tenants.stop(), roles.stop()]);
  });
  const rateLimiter = new PrincipalRateLimiter();
  const lastUse = new LastUseRecorder(bus, logger);
  await app.register(authenticationPlugin, { bus, logger, verifier, revocations, apiKeys, tenants, rateLimiter, lastUse, userRatePerMinute: config.VIGIL_USER_RATE_LIMIT });
  await app.register(identityRoutes, { bus, verifier, revocations, apiKeys, tenants, timeoutMs: config.VIGIL_REQUEST_TIMEOUT_MS, authRateLimit: config.VIGIL_AUTH_RATE_LIMIT });
};

export const identityPlugin = fp(identity, { name: 'vigil-identity', fastify: '5.x', dependencies: ['vigil-metrics'] });
export type { ApiKeyPrincipal, Principal, SessionPrincipal } from './principal.ts';
export { callerOf, principalOf, sessionOf } from './authentication.ts';
