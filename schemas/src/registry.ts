import Compile from 'typebox/compile';
import { AnyEnvelope } from './envelope.ts';
import type { EventDefinition } from './event-definition.ts';
import { auditEvents } from './streams/audit.ts';
import { authEvents } from './streams/auth.ts';
import { deviceAuditEvents, deviceRegistryEvents, deviceTelemetryEvents } from './streams/devices.ts';
import { kmeEvents } from './streams/kme.ts';

const envelopeValidator = Compile(AnyEnvelope);

export type Validation =
  | { ok: true; event: AnyEnvelope; definition: EventDefinition }
  | { ok: false; reason: 'malformed' | 'unknown_type' | 'invalid'; problems: string[] };

/** The event types a process knows, by `type` and `v`; the one place an event is checked before use. */
export class EventRegistry {
  readonly #byKey = new Map<string, EventDefinition>();

  constructor(definitions: Iterable<EventDefinition>) {
    for (const d of definitions) {
      const key = `${d.type}@${d.v}`;
      if (this.#byKey.has(key)) throw new Error(`event ${key} is declared twice`);
      this.#byKey.set(key, d);
    }
  }

  definitions(): EventDefinition[] {
    return [...this.#byKey.values()];
  }

  with(definitions: Iterable<EventDefinition>): EventRegistry {
    return new EventRegistry([...this.#byKey.values(), ...definitions]);
  }

  /** Checks the envelope, then the event's own schema. */
  validate(value: unknown): Validation {
    if (!envelopeValidator.Check(value)) {
      return {
        ok: false,
        reason: 'malformed',
        problems: envelopeValidator.Errors(value).map((e) => `${e.instancePath || '/'}: ${e.message}`),
      };
    }
    const definition = this.#byKey.get(`${value.type}@${value.v}`);
    if (!definition) return { ok: false, reason: 'unknown_type', problems: [`${value.type} v${value.v} is not a known event`] };
    // The compiled check first: listing problems costs twice as much and is only needed when there are some.
    if (!definition.is(value)) return { ok: false, reason: 'invalid', problems: definition.problems(value) };
    return { ok: true, event: value, definition };
  }
}

/** Every event Vigil declares. */
export const vigilEvents = new EventRegistry([
  ...auditEvents,
  ...kmeEvents,
  ...authEvents,
  ...deviceRegistryEvents,
  ...deviceTelemetryEvents,
  ...deviceAuditEvents,
]);
