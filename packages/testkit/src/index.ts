export { availableDatabaseKinds, createTestDatabase, postgresServerUrl, type DatabaseKind, type TestDatabase } from './database.ts';
export { dockerAnswers } from './docker.ts';
export { startTestBus, startTestNats, testLogger, testNamespace, type TestBus, type TestNats } from './nats.ts';
export { emitBenchLine, pipelined } from './bench.ts';
export { given, types, when } from './decider-spec.ts';
