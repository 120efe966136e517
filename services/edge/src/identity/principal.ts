import type { Role } from '@vigil/identity-contract';

/** Who a request is, as its verified access token says: the only source of its tenant. */
export interface Principal {
  readonly userId: string;
  readonly tenant: string;
  readonly sessionId: string;
  readonly roles: readonly Role[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on routes that declare a permission; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The permission (`resource:action`) a route requires; the edge authenticates and enforces it. */
    permission?: string;
    /** A route anyone may call (sign-in, token refresh, the JWKS): it declares so instead of a permission. */
    public?: boolean;
  }
}
