import type { Decider, EventDraft } from '@vigil/bus';
import { NameTakenError } from '@vigil/identity-contract';
import { NameClaimed, NameReleased, type EventOf } from '@vigil/schemas';

export const claimEvents = [NameClaimed, NameReleased] as const;
export type ClaimEvent = EventOf<(typeof claimEvents)[number]>;

/** Who holds a unique name (a username or an e-mail address) of a tenant; the first append to its subject wins. */
export interface ClaimState {
  readonly holder?: string;
}

export type ClaimCommand =
  | { readonly kind: 'claim'; readonly userId: string; readonly what: string }
  | { readonly kind: 'release'; readonly userId: string };

export function evolveClaim(state: ClaimState, event: ClaimEvent): ClaimState {
  switch (event.type) {
    case 'auth.claim.taken':
      return { holder: event.data.user_id };
    case 'auth.claim.released':
      return state.holder === event.data.user_id ? {} : state;
  }
}

type Draft = EventDraft<ClaimEvent['type'], 1, ClaimEvent['data']>;

export function decideClaim(command: ClaimCommand, state: ClaimState): Draft[] {
  if (command.kind === 'release') {
    return state.holder === command.userId ? [{ type: 'auth.claim.released', v: 1, data: { user_id: command.userId } }] : [];
  }
  if (state.holder === command.userId) return [];
  if (state.holder !== undefined) throw new NameTakenError(command.what);
  return [{ type: 'auth.claim.taken', v: 1, data: { user_id: command.userId } }];
}

export const claimDecider: Decider<ClaimCommand, ClaimState, ClaimEvent> = {
  events: claimEvents,
  initialState: () => ({}),
  evolve: evolveClaim,
  decide: decideClaim,
};
