import type { RouteOptions } from 'fastify';

/**
 * Why a route breaks the rule that every route is described (summary, tags, responses), or undefined when it
 * complies. Routes marked `hide` (swagger-ui's files, CORS preflight) are tooling, not API, and are exempt.
 */
export function schemaPolicyViolation(route: Pick<RouteOptions, 'method' | 'url' | 'schema'>): string | undefined {
  const { schema } = route;
  if (schema?.hide === true) return undefined;
  const where = `${String(route.method)} ${route.url}`;
  if (!schema) return `${where} has no schema`;
  if (!schema.summary) return `${where} has no schema.summary`;
  if (!schema.tags || schema.tags.length === 0) return `${where} has no schema.tags`;
  if (!schema.response) return `${where} has no schema.response`;
  return undefined;
}

/** An onRoute hook: a route without a complete schema fails at registration, not in review. */
export function enforceSchemaPolicy(route: RouteOptions): void {
  const violation = schemaPolicyViolation(route);
  if (violation) throw new Error(`route schema policy: ${violation}`);
}
