import Compile from 'typebox/compile';
import { AnyEnvelope } from './envelope.ts';
import type { EventDefinition } from './event-definition.ts';
import { auditEvents } from './streams/audit.ts';
import { authEvents } from './streams/auth.ts';
import { deviceAuditEvents, deviceRegistryEvents, deviceTelemetryEvents } from './streams/devices.ts';
import { kmeEvents } from './streams/kme.ts';

const envelopeValidator = Compile(AnyEnvelope);
/** A valid envelope but for its type and version, to ask whether the envelope admits a definition's. */
const envelopeProbe = { id: '00000000-0000-4000-8000-000000000000', at: '2000-01-01T00:00:00Z', actor: { kind: 'system', id: 'probe' }, correlation_id: 'probe', data: null };

export type Validation =
  | { ok: true; event: AnyEnvelope; definition: EventDefinition }
  | { ok: false; reason: 'malformed' | 'unknown_type' | 'invalid'; problems: string[] };

const utf8 = new TextDecoder();

/** The event types a process knows, by `type` and `v`; the one place an event is checked before use. */
export class EventRegistry {
  readonly #byKey = new Map<string, EventDefinition>();
  /** Definitions whose schema implies the envelope's (see validate), by key. */
  readonly #impliesEnvelope = new Map<string, EventDefinition>();

  constructor(definitions: Iterable<EventDefinition>) {
    for (const d of definitions) {
      const key = `${d.type}@${d.v}`;
      if (this.#byKey.has(key)) throw new Error(`event ${key} is declared twice`);
      this.#byKey.set(key, d);
      if (d.schema.required.includes('data') && envelopeValidator.Check({ ...envelopeProbe, type: d.type, v: d.v })) this.#impliesEnvelope.set(key, d);
    }
  }

  definitions(): EventDefinition[] {
    return [...this.#byKey.values()];
  }

  with(definitions: Iterable<EventDefinition>): EventRegistry {
    return new EventRegistry([...this.#byKey.values(), ...definitions]);
  }

  /**
   * An event as a stream stores it (JSON in UTF-8), parsed and validated: every consumer reads a message through
   * this, whatever thread it runs on, so they all accept and refuse the same ones.
   */
  read(payload: Uint8Array): Validation {
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(payload));
    } catch (err) {
      return { ok: false, reason: 'malformed', problems: [`not JSON: ${err instanceof Error ? err.message : String(err)}`] };
    }
    return this.validate(value);
  }

  /** Checks the envelope, then the event's own schema. */
  validate(value: unknown): Validation {
    // One check where one is enough: a definition's schema is the envelope's own fields with a literal type and
    // version (envelopeOf), so a value it accepts is an envelope whenever that type and version are ones the
    // envelope admits and data is required, which the constructor settles once per definition. Any other value
    // takes the two checks below, which also say what is wrong.
    const key = typeof value === 'object' && value !== null && 'type' in value && 'v' in value ? `${String(value.type)}@${String(value.v)}` : undefined;
    const known = key === undefined ? undefined : this.#impliesEnvelope.get(key);
    if (known?.is(value)) return { ok: true, event: value, definition: known };
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
