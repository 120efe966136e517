// `qry.audit.events`: a page of audit_log for GET /audit/events, answered by every audit replica (a queue group).
import { auditSubjects, AuditTenantForbiddenError, parseAuditEventsQuery, type AuditEventsPage } from '@vigil/audit-contract';
import { append, createEvent, serve, type Bus, type Caller, type Served } from '@vigil/bus';
import { permissions } from '@vigil/identity-contract';
import { AccessDeniedAudit, StreamName } from '@vigil/schemas';
import { schema, type Database } from '@vigil/store';
import { and, asc, desc, eq, gt, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { chainAlgorithm } from './chain.ts';
import { recordOfRow } from './projection.ts';
import { pageOf, planAuditQuery, type AuditQueryPlan } from './query-plan.ts';

const { auditLog } = schema;

/** Room left in a bus message for the reply's envelope around the records. */
const replyHeadroomBytes = 16 * 1024;

/**
 * Reads one page in the order asked for, after the cursor. With a tenant, the (tenant, position) index (migration
 * 0003) can serve the keyset walk without a sort; `type` also matches the source type of a summary, from its details.
 */
export async function readAuditPage(database: Database, plan: AuditQueryPlan, maxBytes: number): Promise<AuditEventsPage> {
  const conditions: SQL[] = [];
  if (plan.tenant !== undefined) conditions.push(eq(auditLog.tenant, plan.tenant));
  if (plan.category !== undefined) conditions.push(eq(auditLog.category, plan.category));
  if (plan.severities !== undefined) conditions.push(inArray(auditLog.severity, [...plan.severities]));
  if (plan.actorId !== undefined) conditions.push(eq(auditLog.actorId, plan.actorId));
  if (plan.type !== undefined) {
    const sameType = or(eq(auditLog.type, plan.type), sql`${auditLog.details}->'source'->>'type' = ${plan.type}`);
    if (sameType) conditions.push(sameType);
  }
  if (plan.since) conditions.push(gte(auditLog.at, plan.since));
  if (plan.until) conditions.push(lt(auditLog.at, plan.until));
  if (plan.after !== undefined) conditions.push(plan.order === 'asc' ? gt(auditLog.position, plan.after) : lt(auditLog.position, plan.after));
  const rows = await database.db
    .select()
    .from(auditLog)
    .where(and(...conditions))
    .orderBy(plan.order === 'asc' ? asc(auditLog.position) : desc(auditLog.position))
    .limit(plan.limit + 1);
  const page = pageOf(rows.map(recordOfRow), plan.limit, maxBytes);
  return { algorithm: chainAlgorithm, stream: StreamName.Audit, records: page.records, next: page.next };
}

/**
 * An attempt to read another tenant's records is an authorization decision: it goes to AUDIT in the caller's tenant,
 * as a warning (the caller holds `audit:read`, so this is no missing role but a reach across tenants).
 */
async function recordCrossTenantDenial(bus: Bus, caller: Caller & { tenant: string }, asked: string): Promise<void> {
  const event = createEvent(
    AccessDeniedAudit,
    { category: 'authorization', severity: 'warning', user_id: caller.actor.id, permission: permissions.auditRead, route: `${auditSubjects.events} tenant=${asked}` },
    { actor: caller.actor, tenant: caller.tenant },
  );
  try {
    await append(bus, `audit.${caller.tenant}.authorization`, event);
  } catch (err) {
    bus.logger.error({ err }, 'could not record a cross-tenant audit query on AUDIT');
  }
}

/** Serves audit queries; the page size in bytes follows the server's message limit. */
export function serveAuditQueries(bus: Bus, database: Database): Served {
  return serve(bus, {
    subject: auditSubjects.events,
    parse: parseAuditEventsQuery,
    handle: async ({ caller, data }) => {
      let plan: AuditQueryPlan;
      try {
        plan = planAuditQuery(caller, data);
      } catch (err) {
        if (err instanceof AuditTenantForbiddenError && caller?.tenant && data.tenant) await recordCrossTenantDenial(bus, { ...caller, tenant: caller.tenant }, data.tenant);
        throw err;
      }
      const maxPayload = bus.nc.info?.max_payload ?? 1024 * 1024;
      return readAuditPage(database, plan, maxPayload - replyHeadroomBytes);
    },
  });
}
