import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuditEventsPage, AuditEventsQueryString, auditPageLimits, auditSubjects, parseAuditEventsPage, type AuditEventsQuery } from '@vigil/audit-contract';
import { request, type Bus } from '@vigil/bus';
import { features, permissions } from '@vigil/identity-contract';
import { callerOf, principalOf } from '../identity/index.ts';
import { problemResponses } from '../problem.ts';

export interface AuditRouteOptions {
  readonly bus: Bus;
  readonly timeoutMs: number;
}

/**
 * The audit trail for auditors. The edge checks the permission and the query's shape; the audit service decides
 * whose records the caller may read, from the caller set here from the verified token (never from the query).
 */
export const auditRoutes: FastifyPluginAsyncTypebox<AuditRouteOptions> = async (app, { bus, timeoutMs }) => {
  app.get(
    '/audit/events',
    {
      config: { permission: permissions.auditRead, feature: features.auditApi },
      schema: {
        summary: 'Read the audit trail',
        description: [
          'Audit records of the caller’s tenant in chain order (`order=desc`: newest first), each with its chain fields',
          '(`position`, `seq` on the AUDIT stream, `prev_hash`, `hash`), so any record can be re-hashed with the documented',
          'algorithm. Filters combine with AND: `category`, `severity` (a minimum), `actor_id`, `type` (also matches what a',
          'summary summarises), `since` (inclusive) and `until` (exclusive). Keyset pages: pass the answer’s `next` as',
          `\`after\` until it is null; \`limit\` ${auditPageLimits.default} by default, at most ${auditPageLimits.max}.`,
          'Callers of the platform tenant may name a `tenant`, or none to read every record; anyone else only their own.',
        ].join(' '),
        tags: ['audit'],
        querystring: AuditEventsQueryString,
        response: { 200: AuditEventsPage, ...problemResponses },
      },
    },
    async (req) => {
      const { after, limit, ...filters } = req.query;
      const query: AuditEventsQuery = { ...filters, ...(after === undefined ? {} : { after: Number(after) }), ...(limit === undefined ? {} : { limit: Number(limit) }) };
      return request(bus, auditSubjects.events, query, {
        timeoutMs,
        parse: parseAuditEventsPage,
        caller: callerOf(principalOf(req)),
      });
    },
  );
};
