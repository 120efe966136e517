export { etsiMessages, KmeBadRequestError, KmeUnauthorizedError, KmeUnavailableError } from './errors.ts';
export {
  containerBytesBound,
  DecKeysRequest,
  EncKeysBatch,
  EncKeysBatchReply,
  EncKeysOutcome,
  EncKeysRequest,
  KeyId,
  kmeSubjects,
  SaeCaller,
  SaeId,
  SealedKeyContainer,
  Status,
  StatusRequest,
} from './messages.ts';
export { openAtEdge, sealForEdge } from './transport.ts';
export { createKekFile, loadKekRing } from './kek.ts';
export {
  parseDecKeysRequest,
  parseEncKeysBatch,
  parseEncKeysBatchReply,
  parseEncKeysRequest,
  parsePoolLevel,
  parsePoolLevelRequest,
  parseSealedKeyContainer,
  parseRemoveSaeRequest,
  parseStatus,
  parseStatusRequest,
  parseTopologyApplied,
  parseTopologyDeclaration,
  parseTopologyView,
} from './parse.ts';
export { RemoveSaeRequest, TopologyApplied, TopologyDeclaration } from './topology.ts';
export { blockContext, kekFilePath, PoolLevel, PoolLevelRequest, supplySubject } from './supply.ts';
