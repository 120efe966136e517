import { append, createEvent, type Bus } from '@vigil/bus';
import { ForbiddenError, hasPermission, TokenInvalidError } from '@vigil/identity-contract';
import { securityLogger, type Logger } from '@vigil/log';
import { AccessDeniedAudit } from '@vigil/schemas';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import type { Principal } from './principal.ts';
import type { RevocationList } from './revocation-list.ts';

export interface AuthenticationOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly verifier: AccessTokenVerifier;
  readonly revocations: RevocationList;
}

const bearer = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * Every route that declares `config.permission` gets an authentication and authorization hook: the bearer token is
 * verified locally, its session must not be revoked, and its roles must grant the permission. Denials are security
 * events on AUDIT. Registered at the root so routes of every module registered later get it.
 */
const authentication: FastifyPluginCallback<AuthenticationOptions> = (app, options, done) => {
  const denials = securityLogger(options.logger, 'authorization');
  const reportDenial = (principal: Principal, permission: string, route: string) => {
    denials.info({ tenant: principal.tenant, user_id: principal.userId, permission, route }, 'access denied');
    const event = createEvent(
      AccessDeniedAudit,
      { category: 'authorization', severity: 'notice', user_id: principal.userId, permission, route },
      { actor: { kind: 'user', id: principal.userId }, tenant: principal.tenant },
    );
    append(options.bus, `audit.${principal.tenant}.authorization`, event).catch((err: unknown) => denials.error({ err }, 'could not record a denial on AUDIT'));
  };

  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (!permission) return;
    const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const header = request.headers.authorization;
      const token = typeof header === 'string' ? bearer.exec(header)?.[1] : undefined;
      const principal = token ? await options.verifier.verify(token) : undefined;
      if (!principal || options.revocations.isRevoked(principal.sessionId)) {
        reply.header('www-authenticate', 'Bearer realm="vigil"');
        throw new TokenInvalidError();
      }
      if (!hasPermission(principal.roles, permission)) {
        reportDenial(principal, permission, `${request.method} ${route.url}`);
        throw new ForbiddenError(permission);
      }
      request.principal = principal;
    };
    const existing = route.onRequest;
    route.onRequest = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), authorize];
  });
  done();
};

export const authenticationPlugin = fp(authentication, { name: 'vigil-authentication', fastify: '5.x' });

/** The principal of a route that declared a permission (the hook guarantees one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new TokenInvalidError();
  return request.principal;
}
