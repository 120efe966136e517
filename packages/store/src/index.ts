export {
  migrationsFolder,
  migrationStatus,
  openDatabase,
  quoteIdentifier,
  rowsOf,
  type BulkParameter,
  type BulkSession,
  type Database,
  type DatabaseOptions,
  type Db,
  type Tx,
} from './database.ts';
export { copyEncoder, insertMany, type CopyEncoder } from './insert-many.ts';
export { createLease, type Lease } from './lease.ts';
export {
  readCheckpoint,
  resetProjection,
  startProjector,
  waitForCheckpoint,
  type BulkRebuild,
  type Projection,
  type ProjectorOptions,
  type RunningProjector,
} from './projector.ts';
export {
  compareWithRebuild,
  ProjectionBusyError,
  rebuildProjection,
  type ProjectionComparison,
  type RebuildOptions,
  type TableComparison,
} from './projection-rebuild.ts';
export * as schema from './schema.ts';
