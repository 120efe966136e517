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
