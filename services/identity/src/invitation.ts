import type { Decider, EventDraft } from '@vigil/bus';
import { digestsEqual } from '@vigil/crypto';
import { InvitationInvalidError, InvitationNotFoundError, type Role } from '@vigil/identity-contract';
import { InvitationAccepted, InvitationIssued, InvitationReopened, InvitationRevoked, type Actor, type DataOf, type EventOf } from '@vigil/schemas';

export const invitationEvents = [InvitationIssued, InvitationAccepted, InvitationReopened, InvitationRevoked] as const;
export type InvitationEvent = EventOf<(typeof invitationEvents)[number]>;
export type IssuedData = DataOf<typeof InvitationIssued>;
/** What making the invited user needs beyond the invitation itself: who, named how, with which password (hashed). */
export type Acceptance = DataOf<typeof InvitationAccepted>;
export type ReopenReason = DataOf<typeof InvitationReopened>['reason'];

/**
 * One invitation, on `auth.<tenant>.invitation.<id>`: issued once; accepted once (or reopened when its user could not
 * be made, then accepted again); revoked once. Expiry is not an event: an invitation past `expiresAt` is refused.
 */
export interface InvitationState {
  readonly status: 'none' | 'pending' | 'accepted' | 'revoked';
  readonly id?: string;
  readonly tokenSha256?: string;
  readonly emailSha256?: string;
  readonly email?: IssuedData['email'];
  readonly roles: readonly Role[];
  readonly expiresAt: number;
  readonly issuedAt: number;
  /** Who issued it: it is accepted with their authority, checked again at the acceptance. */
  readonly issuedBy?: Actor;
  /** The acceptance in force while accepted, and when it was appended. */
  readonly acceptance?: Acceptance & { readonly at: number };
}

export type InvitationCommand =
  | { readonly kind: 'issue'; readonly data: IssuedData }
  | { readonly kind: 'accept'; readonly tokenSha256: string; readonly now: number; readonly acceptance: Acceptance }
  | { readonly kind: 'reopen'; readonly userId: string; readonly reason: ReopenReason }
  | { readonly kind: 'revoke' };

export const initialInvitation: InvitationState = { status: 'none', roles: [], expiresAt: 0, issuedAt: 0 };

/**
 * The user an invitation makes has the invitation's id. Every attempt to make it (the acceptance, or a later one
 * finishing it after a crash) then makes the same user, whose creation is idempotent for its id: never a second one.
 */
export function invitedUserId(invitationId: string): string {
  return invitationId;
}

export function evolveInvitation(state: InvitationState, event: InvitationEvent): InvitationState {
  switch (event.type) {
    case 'auth.invitation.issued': {
      const d = event.data;
      return {
        status: 'pending',
        id: d.invitation_id,
        tokenSha256: d.token_sha256,
        emailSha256: d.email_sha256,
        email: d.email,
        roles: d.roles,
        expiresAt: Date.parse(d.expires_at),
        issuedAt: Date.parse(event.at),
        issuedBy: event.actor,
      };
    }
    case 'auth.invitation.accepted':
      return { ...state, status: 'accepted', acceptance: { ...event.data, at: Date.parse(event.at) } };
    case 'auth.invitation.reopened': {
      const { acceptance: _undone, ...rest } = state;
      return { ...rest, status: 'pending' };
    }
    case 'auth.invitation.revoked':
      return { ...state, status: 'revoked' };
  }
}

/** Whether a token opens this invitation at `now`: pending, its secret (compared as digests, in constant time), not expired. */
export function isAcceptable(state: InvitationState, tokenSha256: string, now: number): boolean {
  return state.status === 'pending' && state.tokenSha256 !== undefined && digestsEqual(state.tokenSha256, tokenSha256) && now < state.expiresAt;
}

type Draft = EventDraft<InvitationEvent['type'], 1, InvitationEvent['data']>;

export function decideInvitation(command: InvitationCommand, state: InvitationState): Draft[] {
  switch (command.kind) {
    case 'issue':
      // Issued already: the same issue retried after its append landed (ids are fresh UUIDv7s, never reused).
      return state.status === 'none' ? [{ type: 'auth.invitation.issued', v: 1, data: command.data }] : [];
    case 'accept':
      // One refusal whatever the cause: unknown, wrong secret, expired, revoked, or accepted by a concurrent request.
      if (!isAcceptable(state, command.tokenSha256, command.now)) throw new InvitationInvalidError();
      return [{ type: 'auth.invitation.accepted', v: 1, data: command.acceptance }];
    case 'reopen':
      return state.status === 'accepted' && state.acceptance?.user_id === command.userId
        ? [{ type: 'auth.invitation.reopened', v: 1, data: { user_id: command.userId, reason: command.reason } }]
        : [];
    case 'revoke':
      if (state.status === 'none' || state.status === 'accepted') throw new InvitationNotFoundError();
      // Revoked already: a retry, nothing more to record.
      return state.status === 'pending' ? [{ type: 'auth.invitation.revoked', v: 1, data: {} }] : [];
  }
}

export const invitationDecider: Decider<InvitationCommand, InvitationState, InvitationEvent> = {
  events: invitationEvents,
  initialState: () => initialInvitation,
  evolve: evolveInvitation,
  decide: decideInvitation,
};
