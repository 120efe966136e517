// What an audit query may read and how its answer is cut into a page, free of I/O: the tenant rule of DESIGN.md
// ("the tenant comes from the authenticated principal") decided here once, tested without a bus or a database.
import { AuditCallerRequiredError, AuditQueryError, auditPageLimits, auditSeverityOrder, AuditTenantForbiddenError, type AuditEventsQuery } from '@vigil/audit-contract';
import type { Caller } from '@vigil/bus';
import { platformTenant } from '@vigil/identity-contract';

/** An audit query with its scope decided: the filters the database applies. */
export interface AuditQueryPlan {
  /** The one tenant whose records are read; undefined only for a platform caller who named none: every record. */
  readonly tenant: string | undefined;
  readonly category?: string;
  /** The severities at or above the minimum asked for. */
  readonly severities?: readonly string[];
  readonly actorId?: string;
  readonly type?: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly after?: number;
  readonly limit: number;
  readonly order: 'asc' | 'desc';
}

/** The severities at or above `minimum`, in `auditSeverityOrder`. */
export function severitiesAtLeast(minimum: string): string[] {
  const from = auditSeverityOrder.findIndex((s) => s === minimum);
  return from < 0 ? [] : auditSeverityOrder.slice(from);
}

/**
 * Decides whose records a query reads. The caller's tenant, set by the edge from the verified token, is the scope;
 * a query may name a tenant only when it is the caller's own, except for callers of the platform tenant (platform
 * administrators, and auditors the platform made), who may read one tenant's records or, naming none, every record
 * (the only view in which consecutive positions, and so every link of the chain, can be checked).
 */
export function planAuditQuery(caller: Caller | undefined, query: AuditEventsQuery): AuditQueryPlan {
  const own = caller?.tenant;
  if (!own) throw new AuditCallerRequiredError();
  if (query.tenant !== undefined && query.tenant !== own && own !== platformTenant) throw new AuditTenantForbiddenError(query.tenant);
  const tenant = own === platformTenant ? query.tenant : own;
  const since = query.since === undefined ? undefined : new Date(query.since);
  const until = query.until === undefined ? undefined : new Date(query.until);
  if (since && until && since.getTime() >= until.getTime()) throw new AuditQueryError('`since` must be before `until`');
  return {
    tenant,
    ...(query.category === undefined ? {} : { category: query.category }),
    ...(query.severity === undefined ? {} : { severities: severitiesAtLeast(query.severity) }),
    ...(query.actor_id === undefined ? {} : { actorId: query.actor_id }),
    ...(query.type === undefined ? {} : { type: query.type }),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(query.after === undefined ? {} : { after: query.after }),
    limit: query.limit ?? auditPageLimits.default,
    order: query.order ?? 'asc',
  };
}

export interface Page<R> {
  readonly records: R[];
  /** The position to continue after, or null when nothing follows. */
  readonly next: number | null;
}

/**
 * Cuts rows read in the page's order (the database is asked for `limit + 1`, so one more row tells that more
 * follow) into a page of at most `limit` records whose JSON fits in `maxBytes`: a reply must fit in one bus message
 * whatever the records hold. The first record is always taken, so paging never stalls.
 */
export function pageOf<R extends { readonly position: number }>(rows: readonly R[], limit: number, maxBytes: number): Page<R> {
  const records: R[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (records.length === limit) break;
    bytes += Buffer.byteLength(JSON.stringify(row)) + 1;
    if (records.length > 0 && bytes > maxBytes) break;
    records.push(row);
  }
  const last = records.at(-1);
  return { records, next: last && records.length < rows.length ? last.position : null };
}
