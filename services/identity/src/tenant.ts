import type { Decider, EventDraft } from '@vigil/bus';
import { ApiKeyQuotaExceededError, QuotaExceededError, TenantExistsError, TenantUnavailableError } from '@vigil/identity-contract';
import { ApiKeySlotReleased, ApiKeySlotTaken, SeatReleased, SeatTaken, TenantCreated, TenantSuspended, type EventOf } from '@vigil/schemas';

export const tenantEvents = [TenantCreated, TenantSuspended, SeatTaken, SeatReleased, ApiKeySlotTaken, ApiKeySlotReleased] as const;
export type TenantEvent = EventOf<(typeof tenantEvents)[number]>;

export interface TenantState {
  readonly id?: string;
  readonly suspended: boolean;
  readonly maxUsers: number;
  /** Absent for tenants made before API keys had a quota: the deployment's default applies. */
  readonly maxApiKeys?: number;
  /** Users holding a seat: the quota is settled by appending to this subject with the expected sequence. */
  readonly seats: ReadonlySet<string>;
  /** API keys holding a slot, with their expiry: an expired key stops counting by itself. */
  readonly apiKeySlots: ReadonlyMap<string, number>;
}

export type TenantCommand =
  | { readonly kind: 'create'; readonly tenantId: string; readonly name: string; readonly maxUsers: number; readonly maxApiKeys: number }
  | { readonly kind: 'suspend'; readonly reason: string }
  | { readonly kind: 'take_seat'; readonly userId: string }
  | { readonly kind: 'release_seat'; readonly userId: string }
  | { readonly kind: 'take_api_key_slot'; readonly keyId: string; readonly expiresAt: number; readonly now: number; readonly defaultMaxApiKeys: number }
  | { readonly kind: 'release_api_key_slot'; readonly keyId: string };

export const initialTenant: TenantState = { suspended: false, maxUsers: 0, seats: new Set(), apiKeySlots: new Map() };

export function evolveTenant(state: TenantState, event: TenantEvent): TenantState {
  switch (event.type) {
    case 'auth.tenant.created': {
      const maxApiKeys = event.data.max_api_keys;
      return { ...state, id: event.data.tenant_id, maxUsers: event.data.max_users, ...(maxApiKeys === undefined ? {} : { maxApiKeys }) };
    }
    case 'auth.tenant.suspended':
      return { ...state, suspended: true };
    case 'auth.tenant.seat_taken':
      return { ...state, seats: new Set([...state.seats, event.data.user_id]) };
    case 'auth.tenant.seat_released': {
      const seats = new Set(state.seats);
      seats.delete(event.data.user_id);
      return { ...state, seats };
    }
    case 'auth.tenant.api_key_slot_taken':
      return { ...state, apiKeySlots: new Map([...state.apiKeySlots, [event.data.key_id, Date.parse(event.data.expires_at)]]) };
    case 'auth.tenant.api_key_slot_released': {
      const apiKeySlots = new Map(state.apiKeySlots);
      apiKeySlots.delete(event.data.key_id);
      return { ...state, apiKeySlots };
    }
  }
}

/** API keys counting toward the quota at `now`: holding a slot and not expired. */
export function liveApiKeys(state: TenantState, now: number): string[] {
  return [...state.apiKeySlots].filter(([, expiresAt]) => expiresAt > now).map(([id]) => id);
}

type Draft = EventDraft<TenantEvent['type'], 1, TenantEvent['data']>;

function requireActive(state: TenantState): void {
  if (state.id === undefined || state.suspended) throw new TenantUnavailableError(state.id ?? '(unknown)');
}

export function decideTenant(command: TenantCommand, state: TenantState): Draft[] {
  switch (command.kind) {
    case 'create':
      if (state.id !== undefined) throw new TenantExistsError(command.tenantId);
      return [
        {
          type: 'auth.tenant.created',
          v: 1,
          data: { tenant_id: command.tenantId, name: command.name, max_users: command.maxUsers, max_api_keys: command.maxApiKeys },
        },
      ];
    case 'suspend':
      if (state.id === undefined) throw new TenantUnavailableError('(unknown)');
      return state.suspended ? [] : [{ type: 'auth.tenant.suspended', v: 1, data: { reason: command.reason } }];
    case 'take_seat':
      requireActive(state);
      if (state.seats.has(command.userId)) return [];
      if (state.seats.size >= state.maxUsers) throw new QuotaExceededError(String(state.maxUsers));
      return [{ type: 'auth.tenant.seat_taken', v: 1, data: { user_id: command.userId } }];
    case 'release_seat':
      return state.seats.has(command.userId) ? [{ type: 'auth.tenant.seat_released', v: 1, data: { user_id: command.userId } }] : [];
    case 'take_api_key_slot': {
      requireActive(state);
      if (state.apiKeySlots.has(command.keyId)) return [];
      const max = state.maxApiKeys ?? command.defaultMaxApiKeys;
      if (liveApiKeys(state, command.now).length >= max) throw new ApiKeyQuotaExceededError(String(max));
      return [{ type: 'auth.tenant.api_key_slot_taken', v: 1, data: { key_id: command.keyId, expires_at: new Date(command.expiresAt).toISOString() } }];
    }
    case 'release_api_key_slot':
      return state.apiKeySlots.has(command.keyId) ? [{ type: 'auth.tenant.api_key_slot_released', v: 1, data: { key_id: command.keyId } }] : [];
  }
}

export const tenantDecider: Decider<TenantCommand, TenantState, TenantEvent> = {
  events: tenantEvents,
  initialState: () => initialTenant,
  evolve: evolveTenant,
  decide: decideTenant,
};
