import { append, createEvent, type Bus, type Caller } from '@vigil/bus';
import { apiKeyPrefix, FeatureNotInPlanError, features, ForbiddenError, hasPermission, RateLimitedError, SessionRequiredError, TokenInvalidError } from '@vigil/identity-contract';
import { securityLogger, type Logger } from '@vigil/log';
import { AccessDeniedAudit } from '@vigil/schemas';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import type { ApiKeyDirectory } from './api-key-directory.ts';
import type { LastUseRecorder } from './api-key-last-use.ts';
import type { PrincipalRateLimiter } from './principal-rate-limiter.ts';
import type { Principal, SessionPrincipal } from './principal.ts';
import type { RevocationList } from './revocation-list.ts';
import type { TenantStatus } from './tenant-status.ts';

export interface AuthenticationOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly verifier: AccessTokenVerifier;
  readonly revocations: RevocationList;
  readonly apiKeys: ApiKeyDirectory;
  readonly tenants: TenantStatus;
  readonly rateLimiter: PrincipalRateLimiter;
  readonly lastUse: LastUseRecorder;
  /** Requests per minute a signed-in user may make at this edge (an API key has its own). */
  readonly userRatePerMinute: number;
}

const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** What the request presents: an access token or an API key (`Authorization: Bearer …`, else `X-API-Key`). */
function credentialOf(request: FastifyRequest): { kind: 'jwt' | 'api_key'; value: string } | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const value = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (value.startsWith(apiKeyPrefix)) return { kind: 'api_key', value };
    return jwtShape.test(value) ? { kind: 'jwt', value } : undefined;
  }
  const key = request.headers['x-api-key'];
  return typeof key === 'string' && key.length > 0 ? { kind: 'api_key', value: key } : undefined;
}

/**
 * Every route that declares `config.permission` gets an authentication and authorization hook. An access token is
 * verified locally and its session must not be revoked; an API key is looked up in the directory every edge keeps
 * from the bus, and must be unexpired. Neither may belong to a suspended tenant (nor may an access token issued before
 * its tenant's last suspension). Each principal is held to its requests per minute (an API key's own, a user's the
 * deployment's; 429 with Retry-After). Then the principal's permissions must include the route's, and the tenant's
 * plan the route's feature (and `api_keys` for a key). Denials are security events on AUDIT. Registered at the root so
 * routes of every module registered later get it.
 */
const authentication: FastifyPluginCallback<AuthenticationOptions> = (app, options, done) => {
  const denials = securityLogger(options.logger, 'authorization');
  const reportDenial = (principal: Principal, permission: string, route: string) => {
    const apiKeyId = principal.kind === 'api_key' ? principal.apiKeyId : undefined;
    denials.info({ tenant: principal.tenant, user_id: principal.userId, api_key_id: apiKeyId, permission, route }, 'access denied');
    const event = createEvent(
      AccessDeniedAudit,
      { category: 'authorization', severity: 'notice', user_id: principal.userId, ...(apiKeyId ? { api_key_id: apiKeyId } : {}), permission, route },
      { actor: callerOf(principal).actor, tenant: principal.tenant },
    );
    append(options.bus, `audit.${principal.tenant}.authorization`, event).catch((err: unknown) => denials.error({ err }, 'could not record a denial on AUDIT'));
  };

  const authenticate = async (request: FastifyRequest, reply: FastifyReply, now: number): Promise<Principal> => {
    const credential = credentialOf(request);
    let principal: Principal | undefined;
    if (credential?.kind === 'jwt') {
      const session = await options.verifier.verify(credential.value);
      principal = session && !options.revocations.isRevoked(session.sessionId) ? session : undefined;
    } else if (credential?.kind === 'api_key') {
      // A key made through another edge a moment ago is looked up rather than refused while the feed brings it here.
      principal = await options.apiKeys.learn(credential.value, now);
    }
    // A credential is judged only on a view that holds its tenant (its plan, a suspension); one of no tenant is none.
    if (principal && !options.tenants.knows(principal.tenant) && !(await options.tenants.learn(principal.tenant))) principal = undefined;
    if (principal && options.tenants.refuses(principal.tenant, principal.kind === 'session' ? principal.issuedAt : undefined)) principal = undefined;
    if (!principal) {
      reply.header('www-authenticate', 'Bearer realm="vigil"');
      throw new TokenInvalidError();
    }
    return principal;
  };

  const sweeper = setInterval(() => {
    options.rateLimiter.sweep();
    options.lastUse.sweep();
  }, 60_000);
  sweeper.unref();
  app.addHook('onClose', (_app, closed) => {
    clearInterval(sweeper);
    closed();
  });

  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (!permission) return;
    const feature = route.config?.feature;
    // Documented where clients look: the OpenAPI operation names the permission (x-permission, and in words).
    if (route.schema) {
      const needs =
        `Needs the permission \`${permission}\` (through a session's roles or an API key's permissions)` +
        (feature ? ` and the feature \`${feature}\` in the tenant's plan.` : '.');
      route.schema = Object.assign({}, route.schema, { 'x-permission': permission, ...(feature ? { 'x-feature': feature } : {}), description: route.schema.description ? `${route.schema.description}\n\n${needs}` : needs });
    }
    const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const now = Date.now();
      const principal = await authenticate(request, reply, now);
      const [budget, perMinute, who] =
        principal.kind === 'api_key' ? [`api_key:${principal.apiKeyId}`, principal.ratePerMinute, 'this API key'] : [`user:${principal.userId}`, options.userRatePerMinute, 'each user'];
      const verdict = options.rateLimiter.take(budget, perMinute, now);
      if (!verdict.ok) {
        reply.header('retry-after', String(verdict.retryAfterSeconds));
        throw new RateLimitedError(who, String(perMinute));
      }
      if (principal.kind === 'api_key') options.lastUse.touch(principal.tenant, principal.apiKeyId, now);
      if (!hasPermission(principal, permission)) {
        reportDenial(principal, permission, `${request.method} ${route.url}`);
        throw new ForbiddenError(permission);
      }
      if (principal.kind === 'api_key' && !options.tenants.hasFeature(principal.tenant, features.apiKeys)) throw new FeatureNotInPlanError(features.apiKeys);
      if (feature && !options.tenants.hasFeature(principal.tenant, feature)) throw new FeatureNotInPlanError(feature);
      request.principal = principal;
    };
    const existing = route.onRequest;
    route.onRequest = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), authorize];
  });
  done();
};

export const authenticationPlugin = fp(authentication, { name: 'vigil-authentication', fastify: '5.x' });

/** The principal of a route that declared a permission (the hook guarantees one): a session or an API key. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new TokenInvalidError();
  return request.principal;
}

/** The signed-in person of a route about one's own sign-in (logout, sessions, MFA, password, making keys). */
export function sessionOf(request: FastifyRequest): SessionPrincipal {
  const principal = principalOf(request);
  if (principal.kind !== 'session') throw new SessionRequiredError();
  return principal;
}

/** Who asks on the bus: the user, or the API key acting for them (so workers and the audit trail can tell). */
export function callerOf(principal: Principal): Caller {
  return principal.kind === 'api_key'
    ? { actor: { kind: 'api_key', id: principal.apiKeyId }, tenant: principal.tenant }
    : { actor: { kind: 'user', id: principal.userId }, tenant: principal.tenant };
}
