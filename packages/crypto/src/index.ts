export { derivedId } from './derived-id.ts';
export { uuidv7, uuidv7Time } from './ids.ts';
export { kekRing, open, seal, SealError, type Kek, type KekRing, type Sealed } from './seal.ts';
export { createKekFile, loadKekRing } from './kek-file.ts';
export { argon2idParameters, hashPassword, verifyAgainstDummy, verifyPassword } from './password-hash.ts';
export { digestsEqual, randomToken, sha256Hex } from './tokens.ts';
export { matchTotpStep, newTotpSecret, totpCode, totpStep, totpUri } from './totp.ts';
