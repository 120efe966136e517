export { etsiAnswerOf, EtsiError } from './etsi-errors.ts';
export { buildEtsiListener, etsiBodyLimit, type EtsiListener, type EtsiListenerOptions } from './listener.ts';
export { startEtsiListener, type RunningEtsiListener } from './start.ts';
export { strongCiphers, type TlsMaterial } from './tls-material.ts';
export type { TlsCounters } from './tls-counters.ts';
