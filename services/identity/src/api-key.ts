import type { Decider, EventDraft } from '@vigil/bus';
import { ApiKeyRevokedError } from '@vigil/identity-contract';
import { ApiKeyCreated, ApiKeyRevoked, type DataOf, type EventOf } from '@vigil/schemas';

export const apiKeyEvents = [ApiKeyCreated, ApiKeyRevoked] as const;
export type ApiKeyEvent = EventOf<(typeof apiKeyEvents)[number]>;
export type ApiKeyRevocationReason = DataOf<typeof ApiKeyRevoked>['reason'];

/** One API key, on `auth.<tenant>.apikey.<key id>`: made once, revoked once, never brought back. */
export interface ApiKeyState {
  readonly status: 'none' | 'active' | 'revoked';
  readonly id?: string;
  readonly userId?: string;
  readonly name?: string;
  readonly permissions: readonly string[];
  readonly expiresAt: number;
  readonly ratePerMinute: number;
  readonly createdAt: number;
  readonly secretSha256?: string;
  readonly revokedReason?: ApiKeyRevocationReason;
}

export type ApiKeyCommand =
  | { readonly kind: 'create'; readonly data: DataOf<typeof ApiKeyCreated> }
  | { readonly kind: 'revoke'; readonly reason: ApiKeyRevocationReason }
  /**
   * Revokes the key even when it does not exist yet: a disable or a role change revokes every key its user issued,
   * and a key still being made must then never come to life (its creation finds it revoked and is refused).
   */
  | { readonly kind: 'forbid'; readonly reason: ApiKeyRevocationReason };

export const initialApiKey: ApiKeyState = { status: 'none', permissions: [], expiresAt: 0, ratePerMinute: 0, createdAt: 0 };

export function evolveApiKey(state: ApiKeyState, event: ApiKeyEvent): ApiKeyState {
  switch (event.type) {
    case 'auth.apikey.created':
      return {
        ...state,
        status: state.status === 'revoked' ? 'revoked' : 'active',
        id: event.data.key_id,
        userId: event.data.user_id,
        name: event.data.name,
        permissions: event.data.permissions,
        expiresAt: Date.parse(event.data.expires_at),
        ratePerMinute: event.data.rate_limit_per_minute,
        createdAt: Date.parse(event.at),
        secretSha256: event.data.secret_sha256,
      };
    case 'auth.apikey.revoked':
      return { ...state, status: 'revoked', revokedReason: event.data.reason };
  }
}

/** Whether a key lets its holder in at `now`: made, not revoked, not expired. */
export function isUsable(state: ApiKeyState, now: number): boolean {
  return state.status === 'active' && now < state.expiresAt;
}

type Draft = EventDraft<ApiKeyEvent['type'], 1, ApiKeyEvent['data']>;

export function decideApiKey(command: ApiKeyCommand, state: ApiKeyState): Draft[] {
  switch (command.kind) {
    case 'create':
      if (state.status === 'none') return [{ type: 'auth.apikey.created', v: 1, data: command.data }];
      // The same creation retried after its append landed: nothing more to do.
      if (state.status === 'active' && state.secretSha256 === command.data.secret_sha256) return [];
      throw new ApiKeyRevokedError();
    case 'revoke':
      return state.status === 'active' ? [{ type: 'auth.apikey.revoked', v: 1, data: { reason: command.reason } }] : [];
    case 'forbid':
      return state.status === 'revoked' ? [] : [{ type: 'auth.apikey.revoked', v: 1, data: { reason: command.reason } }];
  }
}

export const apiKeyDecider: Decider<ApiKeyCommand, ApiKeyState, ApiKeyEvent> = {
  events: apiKeyEvents,
  initialState: () => initialApiKey,
  evolve: evolveApiKey,
  decide: decideApiKey,
};
