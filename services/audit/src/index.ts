export { readAuditLog, type AuditLogFilter } from './audit-log-reader.ts';
export { readAuditPage, serveAuditQueries } from './audit-query.ts';
export {
  canonicalJson,
  ChainBuilder,
  chainAlgorithm,
  chainHash,
  entryOf,
  genesisHash,
  StoredChainCheck,
  type AuditRecord,
  type ChainBreak,
  type ChainedRecord,
} from './chain.ts';
export { prepareAuditRebuild } from './bulk-rebuild.ts';
export { checkpointSubject, lastCheckpoint } from './checkpoints.ts';
export { openCliContext, type CliContext } from './cli-context.ts';
export { exportAudit, type ExportedRecord } from './export.ts';
export { progressOnStderr, type Progress } from './progress.ts';
export { pageOf, planAuditQuery, severitiesAtLeast, type AuditQueryPlan, type Page } from './query-plan.ts';
export { auditProjection, readChainHead } from './projection.ts';
export { replayStream, type ReplayedMessage } from './replay.ts';
export { auditService, createAuditService, type AuditServiceOptions } from './service.ts';
export { inBatches, readDeliveries, readStream, type ReadOptions, type StoredMessage } from './stream-reader.ts';
export { describeReport, verifyAudit, type VerifyReport } from './verify.ts';
