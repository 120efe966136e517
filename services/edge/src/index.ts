export { buildEdge, type EdgeOptions } from './app.ts';
export { edgeService } from './service.ts';
