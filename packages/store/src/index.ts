export {
  defaultReadModelSchema,
  migrationsFolder,
  migrationsTableOf,
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
  projectionOfConsumer,
  projectorNames,
  readCheckpoint,
  resetProjection,
  startProjector,
  waitForCheckpoint,
  type BulkEncoder,
  type BulkRebuild,
  type EncodedRows,
  type Projection,
  type ProjectorOptions,
  type RunningProjector,
  type StoredMessages,
} from './projector.ts';
export {
  compareWithRebuild,
  ProjectionBusyError,
  rebuildProjection,
  rowBulkRebuild,
  type ProjectionComparison,
  type RebuildOptions,
  type TableComparison,
} from './projection-rebuild.ts';
export {
  dropReadModelSchema,
  listReadModelSchemas,
  ReadModelSchemaRefusedError,
  type DropOptions,
  type DroppedSchema,
  type ReadModelSchema,
} from './read-model-schemas.ts';
export * as schema from './schema.ts';
