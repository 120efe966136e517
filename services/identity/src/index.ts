export { IdentityWorker, type IdentityPolicy, type IdentityWorkerOptions } from './identity-worker.ts';
export { identityService } from './service.ts';
export { identityPolicy } from './policy.ts';
export { loadIdentityKeys } from './key-files.ts';
export { createSigningKeysFile, loadSigningKeys, rotateSigningKeysFile, type SigningKeys } from './signing-keys.ts';
export { commonPasswordCount, passwordProblem, type PasswordPolicy } from './password-policy.ts';
