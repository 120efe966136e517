export { Actor, AnyEnvelope, TenantId, envelopeOf } from './envelope.ts';
export { defineEvent, type DataOf, type EventDefinition, type EventOf } from './event-definition.ts';
export { EventRegistry, vigilEvents, type Validation } from './registry.ts';
export { StreamName } from './stream-names.ts';
export * from './streams/audit.ts';
export * from './streams/auth.ts';
export * from './streams/devices.ts';
export * from './streams/kme.ts';
export { jsonSchemaFiles } from './json-schema.ts';
