export {
  createCertificateAuthority,
  issueSaeCertificate,
  issueServerCertificate,
  type CaOptions,
  type IssuedCertificate,
  type LeafOptions,
  type SaeOptions,
  type ServerOptions,
} from './certificates.ts';
export { createCrl, parseCrl, type CrlOptions, type ParsedCrl, type RevokedEntry } from './crl.ts';
export {
  ensureDevelopmentPki,
  initPki,
  loadCa,
  pkiPaths,
  PkiDirectoryError,
  renewCrl,
  revokeCertificate,
  saePaths,
  writeSaeCertificate,
  writeServerCertificate,
  type InitOptions,
  type PkiPaths,
  type Revocation,
  type SaeIssued,
} from './directory.ts';
export { certificateNames, certificateSha256, type CertificateNames } from './inspect.ts';
export { keyAlgorithms, type KeyAlgorithm } from './keys.ts';
export type { Validity } from './validity.ts';
