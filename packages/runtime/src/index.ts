export { busSecurityOf } from './bus-security.ts';
export { runUntilSignal, startProcess, StartupError, vigilVersion, type ProcessOptions, type RunningProcess } from './process.ts';
export type { ServiceContext, ServiceModule, StartedService } from './service.ts';
