// Reading audit_log in chain order, a page at a time, so a verification or an export of any size runs in bounded memory.
import { and, asc, eq, gt, gte, lt, lte, type SQL } from 'drizzle-orm';
import { schema, type Database } from '@vigil/store';
import type { AuditLogRow } from './projection.ts';

const { auditLog } = schema;

export interface AuditLogFilter {
  readonly since?: Date;
  readonly until?: Date;
  readonly tenant?: string;
  readonly category?: string;
  /** Rows with a stream sequence up to this one. */
  readonly untilSeq?: number;
}

export async function* readAuditLog(database: Database, filter: AuditLogFilter = {}, pageSize = 2000): AsyncGenerator<AuditLogRow> {
  const conditions: SQL[] = [];
  if (filter.since) conditions.push(gte(auditLog.at, filter.since));
  if (filter.until) conditions.push(lt(auditLog.at, filter.until));
  if (filter.tenant !== undefined) conditions.push(eq(auditLog.tenant, filter.tenant));
  if (filter.category !== undefined) conditions.push(eq(auditLog.category, filter.category));
  if (filter.untilSeq !== undefined) conditions.push(lte(auditLog.seq, filter.untilSeq));
  let after = 0;
  for (;;) {
    const page = await database.db
      .select()
      .from(auditLog)
      .where(and(gt(auditLog.position, after), ...conditions))
      .orderBy(asc(auditLog.position))
      .limit(pageSize);
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < pageSize) return;
    after = last.position;
  }
}
