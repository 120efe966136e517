export { uuidv7, uuidv7Time } from './ids.ts';
export { kekRing, open, seal, SealError, type Kek, type KekRing, type Sealed } from './seal.ts';
