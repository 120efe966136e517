export { AggregateCache } from './aggregate-cache.ts';
export { append, type Appended, type AppendOptions } from './append.ts';
export { AppendRefusedError, AppendTimeoutError, StreamAppender, type StreamAppenderOptions } from './stream-appender.ts';
export {
  foldEvents,
  handleCommand,
  loadAggregate,
  type CommandOptions,
  type CommandResult,
  type Decider,
  type LoadedAggregate,
  type StoredEvent,
} from './aggregate.ts';
export { connectBus, drainBus, type Bus, type BusOptions, type BusSecurity } from './connection.ts';
export { ensureConsumer, startConsumer, type ConsumerOptions, type Delivery, type RunningConsumer } from './consumer.ts';
export {
  BadRequestError,
  ConcurrencyError,
  defineError,
  InternalError,
  InvalidEventError,
  isVigilError,
  NoWorkerError,
  rehydrateError,
  RemoteError,
  StreamConfigError,
  WorkerTimeoutError,
  type VigilError,
  type VigilErrorClass,
} from './errors.ts';
export { createEvent, envelope, isEventOf, type DraftOf, type EventDraft, type EventMeta } from './events.ts';
export { BusNames, subjectToken } from './names.ts';
export { replyParser, requestParser, schemaProblems } from './message-parsers.ts';
export { readMessage, rejectionCounts, rejectMessage, type RejectionReason } from './rejections.ts';
export { correlationHeader, request, serve, type BusRequest, type Caller, type RequestOptions, type Served, type ServeOptions } from './request-reply.ts';
export { configDrift, ensureStreams, streamConfig, streamDeclarations, streamForSubject, streamOf, type StreamDeclaration } from './streams.ts';
export { freePort, natsServerVersion, NatsServerMissingError, startLocalNatsServer, type LocalNatsServer, type LocalNatsServerOptions } from './local-server.ts';
export { collectWorkerStatus, serveWorkerStatus, workerStatusSubject, type StatusResponder, type WorkerStatus } from './worker-status.ts';
export { followEvents, type FollowedEvent, type Following, type FollowOptions } from './follow.ts';
