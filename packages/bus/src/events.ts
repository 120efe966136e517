import { uuidv7 } from '@vigil/crypto';
import { currentContext } from '@vigil/log';
import type { Actor, AnyEnvelope, DataOf, EventDefinition, EventOf } from '@vigil/schemas';
import { InvalidEventError } from './errors.ts';

/** What a decision produces: the event's type, version and data, before it gets its id and time. */
export interface EventDraft<T extends string = string, V extends number = number, D = unknown> {
  readonly type: T;
  readonly v: V;
  readonly data: D;
}

export type DraftOf<E extends EventDefinition> = EventDraft<E['type'], E['v'], DataOf<E>>;

/** Who and why, added to each draft to make an event. */
export interface EventMeta {
  readonly actor: Actor;
  readonly tenant?: string;
  /** Defaults to the correlation id of the work in progress, or a new one. */
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly now?: Date;
  /**
   * An id derived from what the event is about (see `derivedId`), for an event that several replicas may decide
   * alike: its `Nats-Msg-Id` is then the same and the server stores it once. Default: a new UUIDv7.
   */
  readonly id?: string;
}

/** Completes a draft into an envelope: a fresh UUIDv7 id, the time, the correlation of the work in progress. */
export function envelope(draft: EventDraft, meta: EventMeta): AnyEnvelope {
  const id = meta.id ?? uuidv7();
  const event: AnyEnvelope = {
    id,
    type: draft.type,
    v: draft.v,
    at: (meta.now ?? new Date()).toISOString(),
    actor: meta.actor,
    correlation_id: meta.correlationId ?? currentContext()?.correlationId ?? id,
    data: draft.data,
  };
  if (meta.tenant !== undefined) event.tenant = meta.tenant;
  if (meta.causationId !== undefined) event.causation_id = meta.causationId;
  return event;
}

/** A typed event of one definition, checked against its schema as it is made. */
export function createEvent<E extends EventDefinition>(definition: E, data: DataOf<E>, meta: EventMeta): EventOf<E> {
  const event: unknown = envelope({ type: definition.type, v: definition.v, data }, meta);
  if (!definition.is(event)) throw new InvalidEventError(definition.type, definition.problems(event).join('; '));
  // `is` narrows to this definition's envelope
  return event;
}

/**
 * Narrows an event the registry has already validated to the union of the given definitions. Checking type and
 * version is enough: the registry checked the data against that very definition.
 */
export function isEventOf<const Ds extends readonly EventDefinition[]>(definitions: Ds, event: AnyEnvelope): event is EventOf<Ds[number]> {
  return definitions.some((d) => d.type === event.type && d.v === event.v);
}
