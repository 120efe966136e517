// `vigil audit export`: the chained records as JSON Lines, each line a record with its prev_hash and hash, so an
// auditor recomputes every hash offline (README "For auditors"); consecutive positions also check their links.
import type { Database } from '@vigil/store';
import { chainAlgorithm, type ChainedRecord } from './chain.ts';
import { readAuditLog, type AuditLogFilter } from './audit-log-reader.ts';
import { recordOfRow } from './projection.ts';

export interface ExportedRecord extends ChainedRecord {
  readonly algorithm: typeof chainAlgorithm;
}

export async function* exportAudit(database: Database, filter: AuditLogFilter): AsyncGenerator<ExportedRecord> {
  for await (const row of readAuditLog(database, filter)) yield { ...recordOfRow(row), algorithm: chainAlgorithm };
}
