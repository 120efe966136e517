export { buildEdge, type EdgeOptions } from './app.ts';
export { buildEtsiListener, etsiBodyLimit, startEtsiListener, strongCiphers, type EtsiListener, type RunningEtsiListener, type TlsMaterial } from './etsi/index.ts';
export { edgeService } from './service.ts';
