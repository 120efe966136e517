export { LinkSimulator, maxBlockBytes, type LinkStatus } from './link-simulator.ts';
export { qkdSimService } from './service.ts';
