export { etsiMessages, KmeBadRequestError, KmeUnauthorizedError, KmeUnavailableError } from './errors.ts';
export {
  DecKeysRequest,
  EncKeysRequest,
  KeyId,
  kmeSubjects,
  SaeId,
  SealedKeyContainer,
  Status,
  StatusRequest,
} from './messages.ts';
export { openAtEdge, sealForEdge } from './transport.ts';
export { createKekFile, loadKekRing } from './kek.ts';
export {
  parseDecKeysRequest,
  parseEncKeysRequest,
  parsePoolLevel,
  parsePoolLevelRequest,
  parseSealedKeyContainer,
  parseStatus,
  parseStatusRequest,
} from './parse.ts';
export { blockContext, kekFilePath, PoolLevel, PoolLevelRequest, supplySubject } from './supply.ts';
