import type { Decider, EventDraft } from '@vigil/bus';
import type { Role } from '@vigil/identity-contract';
import { SessionRefreshed, SessionRevoked, SessionStarted, type DataOf, type EventOf } from '@vigil/schemas';

export const sessionEvents = [SessionStarted, SessionRefreshed, SessionRevoked] as const;
export type SessionEvent = EventOf<(typeof sessionEvents)[number]>;
export type RevocationReason = DataOf<typeof SessionRevoked>['reason'];

export interface SessionState {
  readonly status: 'none' | 'active' | 'revoked';
  readonly userId?: string;
  readonly roles: readonly Role[];
  readonly mfa: boolean;
  /** SHA-256 of the one refresh token that works now. */
  readonly current?: string;
  /** Hashes of the tokens rotated away: presenting one again means it was stolen (or replayed). */
  readonly rotated: ReadonlySet<string>;
  readonly startedAt: number;
  readonly lastActiveAt: number;
  readonly expiresAt: number;
  readonly revokedReason?: RevocationReason;
}

export type SessionCommand =
  | { readonly kind: 'start'; readonly data: DataOf<typeof SessionStarted> }
  | {
      readonly kind: 'refresh';
      readonly presented: string;
      readonly next: string;
      readonly now: number;
      readonly idleMs: number;
      /** Sessions started before this moment (the tenant's last reactivation) do not outlive the suspension. */
      readonly notBefore?: number;
    }
  | { readonly kind: 'revoke'; readonly reason: RevocationReason }
  /**
   * Revokes the session even when it has not started yet: a disable or a delete ends every session its user opened,
   * and one whose sign-in raced it must then never start (its start finds it revoked and is refused).
   */
  | { readonly kind: 'forbid'; readonly reason: RevocationReason };

export const initialSession: SessionState = { status: 'none', roles: [], mfa: false, rotated: new Set(), startedAt: 0, lastActiveAt: 0, expiresAt: 0 };

export function evolveSession(state: SessionState, event: SessionEvent): SessionState {
  const at = Date.parse(event.at);
  switch (event.type) {
    case 'auth.session.started':
      return {
        ...state,
        status: 'active',
        userId: event.data.user_id,
        roles: event.data.roles,
        mfa: event.data.mfa,
        current: event.data.refresh_sha256,
        startedAt: at,
        lastActiveAt: at,
        expiresAt: Date.parse(event.data.expires_at),
      };
    case 'auth.session.refreshed':
      return { ...state, rotated: new Set([...state.rotated, ...(state.current ? [state.current] : [])]), current: event.data.refresh_sha256, lastActiveAt: at };
    case 'auth.session.revoked':
      return { ...state, status: 'revoked', revokedReason: event.data.reason };
  }
}

/** Whether a session still stands at `now`: started, not revoked, within its absolute and idle limits. */
export function isLive(state: SessionState, now: number, idleMs: number): boolean {
  return state.status === 'active' && now < state.expiresAt && now - state.lastActiveAt <= idleMs;
}

type Draft = EventDraft<SessionEvent['type'], 1, SessionEvent['data']>;

/**
 * One session and its refresh-token family. A refresh is one append with the expected sequence, so two uses of the
 * same token cannot both rotate it: the second finds the token rotated away, and that reuse ends the session.
 */
export function decideSession(command: SessionCommand, state: SessionState): Draft[] {
  switch (command.kind) {
    case 'start':
      return state.status === 'none' ? [{ type: 'auth.session.started', v: 1, data: command.data }] : [];
    case 'revoke':
      return state.status === 'active' ? [{ type: 'auth.session.revoked', v: 1, data: { reason: command.reason } }] : [];
    case 'forbid':
      return state.status === 'revoked' ? [] : [{ type: 'auth.session.revoked', v: 1, data: { reason: command.reason } }];
    case 'refresh': {
      if (state.status !== 'active') return [];
      if (command.notBefore !== undefined && state.startedAt < command.notBefore) return [{ type: 'auth.session.revoked', v: 1, data: { reason: 'tenant_suspended' } }];
      if (command.now >= state.expiresAt) return [{ type: 'auth.session.revoked', v: 1, data: { reason: 'expired' } }];
      if (command.now - state.lastActiveAt > command.idleMs) return [{ type: 'auth.session.revoked', v: 1, data: { reason: 'idle_timeout' } }];
      if (command.presented === state.current) return [{ type: 'auth.session.refreshed', v: 1, data: { refresh_sha256: command.next } }];
      if (state.rotated.has(command.presented)) return [{ type: 'auth.session.revoked', v: 1, data: { reason: 'refresh_reuse' } }];
      // Not a token of this session at all: refused, and nothing to record against the session.
      return [];
    }
  }
}

export const sessionDecider: Decider<SessionCommand, SessionState, SessionEvent> = {
  events: sessionEvents,
  initialState: () => initialSession,
  evolve: evolveSession,
  decide: decideSession,
};
