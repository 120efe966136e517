import type { Decider, EventDraft } from '@vigil/bus';
import { etsiMessages, KmeBadRequestError, KmeUnauthorizedError } from '@vigil/kme-contract';
import { KeysDelivered, KeysExpired, KeysRetrieved, type DataOf, type EventOf } from '@vigil/schemas';
import { keyIdOf } from './key-ids.ts';

/** The subject of one enc_keys request's keys. */
export function requestSubject(linkId: string, requestId: string): string {
  return `keyreq.${linkId}.req.${requestId}`;
}

export const requestEvents = [KeysDelivered, KeysRetrieved, KeysExpired] as const;
export type RequestEvent = EventOf<(typeof requestEvents)[number]>;
/** A request's allocation as its master got it: from its allocation event (or a v1 KeysDelivered event). */
export type Delivery = DataOf<typeof KeysDelivered>;

export interface KeyRequestState {
  /** The keys as delivered to the master; absent when no such request was made. */
  readonly delivered?: Delivery;
  /** Key indexes each slave has retrieved. */
  readonly retrieved: ReadonlyMap<string, ReadonlySet<number>>;
  readonly expired: boolean;
}

export type KeyRequestCommand =
  | { readonly kind: 'retrieve'; readonly master: string; readonly slave: string; readonly indexes: readonly number[] }
  | { readonly kind: 'expire'; readonly requestId: string; readonly now: Date };

export const initialKeyRequest: KeyRequestState = { retrieved: new Map(), expired: false };

export function evolveKeyRequest(state: KeyRequestState, event: RequestEvent): KeyRequestState {
  switch (event.type) {
    case 'kme.keys.delivered':
      return { ...state, delivered: event.data };
    case 'kme.keys.retrieved': {
      const retrieved = new Map(state.retrieved);
      const mine = new Set(retrieved.get(event.data.slave_SAE_ID));
      for (const id of event.data.key_IDs) mine.add(Number.parseInt(id.slice(32), 16));
      retrieved.set(event.data.slave_SAE_ID, mine);
      return { ...state, retrieved };
    }
    case 'kme.keys.expired':
      return { ...state, expired: true };
  }
}

/** Every slave has every key, or the keys expired: the material may go. */
export function isSpent(state: KeyRequestState): boolean {
  if (state.expired) return true;
  const d = state.delivered;
  if (!d) return false;
  return d.slave_SAE_IDs.every((s) => (state.retrieved.get(s)?.size ?? 0) >= d.key_count);
}

type Draft = EventDraft<RequestEvent['type'], 1, RequestEvent['data']>;

/**
 * A retrieval is a one-time transition per slave and key, settled by the expected sequence of the request's
 * subject: two concurrent dec_keys for the same key cannot both succeed.
 */
export function decideKeyRequest(command: KeyRequestCommand, state: KeyRequestState): Draft[] {
  if (command.kind === 'expire') {
    if (state.expired || isSpent(state)) return [];
    return [{ type: 'kme.keys.expired', v: 1, data: { request_id: command.requestId } }];
  }
  const d = state.delivered;
  if (!d || state.expired || d.master_SAE_ID !== command.master) throw new KmeBadRequestError(etsiMessages.keysNotFound);
  // ETSI 014 clause 5.4: a requestor that was not named as a slave for these keys gets 401.
  if (!d.slave_SAE_IDs.includes(command.slave)) throw new KmeUnauthorizedError('the SAE is not a slave SAE of the requested keys');
  const mine = state.retrieved.get(command.slave);
  for (const i of command.indexes) {
    if (i >= d.key_count || mine?.has(i)) throw new KmeBadRequestError(etsiMessages.keysNotFound);
  }
  return [{ type: 'kme.keys.retrieved', v: 1, data: { slave_SAE_ID: command.slave, key_IDs: command.indexes.map((i) => keyIdOf(d.request_id, i)) } }];
}

export const keyRequestDecider: Decider<KeyRequestCommand, KeyRequestState, RequestEvent> = {
  events: requestEvents,
  initialState: () => initialKeyRequest,
  evolve: evolveKeyRequest,
  decide: decideKeyRequest,
};

/**
 * The request's aggregate starting from its allocation, found in the pool event its id points to: a request's
 * subject holds no event until a slave retrieves, so the first retrieval (or expiry) is appended expecting
 * sequence 0 and a concurrent one conflicts, reloads and decides again. A request of v1 brings its KeysDelivered
 * event on its own subject instead.
 */
export function keyRequestDeciderFrom(allocation: Delivery | undefined): Decider<KeyRequestCommand, KeyRequestState, RequestEvent> {
  if (!allocation) return keyRequestDecider;
  const initial: KeyRequestState = { ...initialKeyRequest, delivered: allocation };
  return { ...keyRequestDecider, initialState: () => initial };
}
