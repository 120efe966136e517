// Emmett-style decider specifications: given events, when a command, then the events decided.
import { envelope, isEventOf, type Decider, type EventDraft } from '@vigil/bus';
import type { AnyEnvelope } from '@vigil/schemas';

/** Given these drafts as stored events (at `at`), the state a decider folds them into. */
export function given<C, S, E extends AnyEnvelope>(decider: Decider<C, S, E>, drafts: readonly EventDraft[], at = new Date('2026-01-01T00:00:00Z')): S {
  let state = decider.initialState();
  for (const draft of drafts) {
    const event = envelope(draft, { actor: { kind: 'system', id: 'test' }, now: at });
    if (!isEventOf(decider.events, event)) throw new Error(`${draft.type} is not an event of this decider`);
    const validation = decider.events.find((d) => d.type === event.type)?.problems(event) ?? [];
    if (validation.length > 0) throw new Error(`${draft.type}: ${validation.join('; ')}`);
    state = decider.evolve(state, narrow(decider, event));
  }
  return state;
}

function narrow<C, S, E extends AnyEnvelope>(decider: Decider<C, S, E>, event: AnyEnvelope): E {
  const isEvent = (e: AnyEnvelope): e is E => isEventOf(decider.events, e);
  if (!isEvent(event)) throw new Error('not an event of this decider');
  return event;
}

/** Given, when, then: the events decided, after checking each against its schema. */
export function when<C, S, E extends AnyEnvelope>(decider: Decider<C, S, E>, state: S, command: C): readonly EventDraft[] {
  const drafts = decider.decide(command, state);
  for (const d of drafts) {
    const event = envelope(d, { actor: { kind: 'system', id: 'test' } });
    const definition = decider.events.find((x) => x.type === event.type && x.v === event.v);
    if (!definition) throw new Error(`decided ${d.type}, which this aggregate does not hold`);
    const problems = definition.problems(event);
    if (problems.length > 0) throw new Error(`${d.type}: ${problems.join('; ')}`);
  }
  return drafts;
}

export const types = (drafts: readonly EventDraft[]): string[] => drafts.map((d) => d.type);
