// The audit_log read model: AUDIT events chained in stream order, written by the projector runtime of @vigil/store.
import { desc, eq, inArray } from 'drizzle-orm';
import { StreamName } from '@vigil/schemas';
import { insertMany, schema, type Projection, type Tx } from '@vigil/store';
import { createAuditBulkRebuild } from './bulk-rebuild.ts';
import { ChainBuilder, emptyChain, entryOf, isJsonObject, type ChainedRecord, type ChainHead } from './chain.ts';

export { createAuditBulkRebuild };

const { auditLog } = schema;

export type AuditLogRow = typeof auditLog.$inferSelect;
type AuditLogInsert = typeof auditLog.$inferInsert;

/** The columns of a chained record. */
export function rowOf(r: ChainedRecord): AuditLogInsert {
  return {
    position: r.position,
    seq: r.seq,
    eventId: r.event_id,
    type: r.type,
    v: r.v,
    // insertMany sends rows as JSON: the ISO text is what timestamptz parses.
    at: new Date(r.at),
    tenant: r.tenant,
    actorKind: r.actor.kind,
    actorId: r.actor.id,
    correlationId: r.correlation_id,
    causationId: r.causation_id,
    category: r.category,
    severity: r.severity,
    subject: r.subject,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** The chained record a row states (whatever it holds: verification recomputes its hash). */
export function recordOfRow(row: AuditLogRow): ChainedRecord {
  return {
    position: row.position,
    seq: row.seq,
    event_id: row.eventId,
    type: row.type,
    v: row.v,
    at: row.at.toISOString(),
    tenant: row.tenant,
    actor: { kind: row.actorKind, id: row.actorId },
    correlation_id: row.correlationId,
    causation_id: row.causationId,
    category: row.category,
    severity: row.severity,
    subject: row.subject,
    details: isJsonObject(row.details) ? row.details : { data: row.details },
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

/** The last record's position and hash, read in the transaction that extends the chain. */
export async function readChainHead(tx: Pick<Tx, 'select'>): Promise<ChainHead> {
  const rows = await tx.select({ position: auditLog.position, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.position)).limit(1);
  return rows[0] ?? emptyChain;
}

export async function readRecordAt(tx: Pick<Tx, 'select'>, position: number): Promise<{ seq: number; hash: string } | undefined> {
  const rows = await tx.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).where(eq(auditLog.position, position));
  return rows[0];
}

/**
 * Every AUDIT event but checkpoints becomes one row, chained to the row before in stream order. The chain's head is
 * read inside the batch's transaction, so the projector's exactly-once bookkeeping covers the chain as well.
 */
export const auditProjection: Projection = {
  name: 'audit_log',
  stream: StreamName.Audit,
  tables: [auditLog],
  bulkRebuild: createAuditBulkRebuild(),
  async apply(tx, events) {
    const entries = events.flatMap((d) => entryOf(d.seq, d.subject, d.event) ?? []);
    if (entries.length === 0) return;
    const head = await readChainHead(tx);
    const known = await tx.select({ eventId: auditLog.eventId }).from(auditLog).where(inArray(auditLog.eventId, entries.map((e) => e.event_id)));
    const chain = new ChainBuilder(head, new Set(known.map((k) => k.eventId)));
    const rows = entries.flatMap((e) => {
      const chained = chain.append(e);
      return chained ? [rowOf(chained)] : [];
    });
    await insertMany(tx, auditLog, rows);
  },
};
