import { AnyEnvelope } from './envelope.ts';
import type { EventRegistry } from './registry.ts';

/**
 * The JSON Schema files auditors and other languages read: the envelope, and one file per event type and
 * version under its stream. Paths are relative to `schemas/json`.
 */
export function jsonSchemaFiles(registry: EventRegistry): Map<string, string> {
  const files = new Map<string, string>();
  const write = (path: string, schema: object) =>
    files.set(path, `${JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...schema }, null, 2)}\n`);
  write('envelope.json', AnyEnvelope);
  for (const d of registry.definitions()) write(`${d.stream}/${d.type}.v${d.v}.json`, d.schema);
  return files;
}
