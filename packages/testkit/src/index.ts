export { availableDatabaseKinds, createTestDatabase, postgresServerUrl, type DatabaseKind, type TestDatabase } from './database.ts';
export { dockerAnswers } from './docker.ts';
export { startTestBus, startTestNats, testLogger, testNamespace, type TestBus, type TestNats } from './nats.ts';
export { cpuSecondsOf, emitBenchLine, natsServerPid, pipelined } from './bench.ts';
export { given, types, when } from './decider-spec.ts';
export { eventually } from './eventually.ts';
export { publishAcrossBusOutage, type BusOutageOptions, type BusOutageRun } from './qos1-outage.ts';
