import type { Feature, Role } from '@vigil/identity-contract';

interface PrincipalBase {
  /** The only source of a request's tenant. */
  readonly tenant: string;
  /** The user: the one signed in, or the one who made the API key (it acts for them). */
  readonly userId: string;
  /** What the principal may do: its roles' permissions (a session) or the key's own (an API key). */
  readonly permissions: ReadonlySet<string>;
}

/** A person signed in, as their verified access token says. */
export interface SessionPrincipal extends PrincipalBase {
  readonly kind: 'session';
  readonly sessionId: string;
  readonly roles: readonly Role[];
  /** The token's `iat` (whole seconds): a token issued before its tenant's last suspension stays refused. */
  readonly issuedAt: number;
}

/** A program holding an API key, as the key's events say. */
export interface ApiKeyPrincipal extends PrincipalBase {
  readonly kind: 'api_key';
  readonly apiKeyId: string;
  /** Requests per minute the key may make at this edge. */
  readonly ratePerMinute: number;
}

/** Who a request is. Check a permission with `hasPermission(principal, …)`: it works for both kinds. */
export type Principal = SessionPrincipal | ApiKeyPrincipal;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on routes that declare a permission; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The permission (`resource:action`) a route requires; the edge authenticates and enforces it. */
    permission?: string;
    /** The feature of the tenant's plan a route requires (with its permission); 403 when the tenant lacks it. */
    feature?: Feature;
    /** A route anyone may call (sign-in, token refresh, the JWKS): it declares so instead of a permission. */
    public?: boolean;
  }
}
