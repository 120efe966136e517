// The KEK file format is shared by every service that seals (KME, identity); it lives in @vigil/crypto.
export { createKekFile, loadKekRing } from '@vigil/crypto';
