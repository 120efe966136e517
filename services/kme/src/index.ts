export { KmeWorker, type KmeWorkerOptions } from './kme-worker.ts';
export { kmeService } from './service.ts';
export { applyTopology, applyTopologyFile, parseTopology } from './topology-file.ts';
export type { TopologyDeclaration } from '@vigil/kme-contract';
export { Eraser, type EraserOptions } from './eraser.ts';
export { ErasureLedger } from './erasure-ledger.ts';
export { keyRequestsProjection, keySupplyProjection } from './projections.ts';
