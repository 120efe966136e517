import type { Decider, EventDraft } from '@vigil/bus';
import { QuotaExceededError, TenantExistsError, TenantUnavailableError } from '@vigil/identity-contract';
import { SeatReleased, SeatTaken, TenantCreated, TenantSuspended, type EventOf } from '@vigil/schemas';

export const tenantEvents = [TenantCreated, TenantSuspended, SeatTaken, SeatReleased] as const;
export type TenantEvent = EventOf<(typeof tenantEvents)[number]>;

export interface TenantState {
  readonly id?: string;
  readonly suspended: boolean;
  readonly maxUsers: number;
  /** Users holding a seat: the quota is settled by appending to this subject with the expected sequence. */
  readonly seats: ReadonlySet<string>;
}

export type TenantCommand =
  | { readonly kind: 'create'; readonly tenantId: string; readonly name: string; readonly maxUsers: number }
  | { readonly kind: 'suspend'; readonly reason: string }
  | { readonly kind: 'take_seat'; readonly userId: string }
  | { readonly kind: 'release_seat'; readonly userId: string };

export const initialTenant: TenantState = { suspended: false, maxUsers: 0, seats: new Set() };

export function evolveTenant(state: TenantState, event: TenantEvent): TenantState {
  switch (event.type) {
    case 'auth.tenant.created':
      return { ...state, id: event.data.tenant_id, maxUsers: event.data.max_users };
    case 'auth.tenant.suspended':
      return { ...state, suspended: true };
    case 'auth.tenant.seat_taken':
      return { ...state, seats: new Set([...state.seats, event.data.user_id]) };
    case 'auth.tenant.seat_released': {
      const seats = new Set(state.seats);
      seats.delete(event.data.user_id);
      return { ...state, seats };
    }
  }
}

type Draft = EventDraft<TenantEvent['type'], 1, TenantEvent['data']>;

export function decideTenant(command: TenantCommand, state: TenantState): Draft[] {
  switch (command.kind) {
    case 'create':
      if (state.id !== undefined) throw new TenantExistsError(command.tenantId);
      return [{ type: 'auth.tenant.created', v: 1, data: { tenant_id: command.tenantId, name: command.name, max_users: command.maxUsers } }];
    case 'suspend':
      if (state.id === undefined) throw new TenantUnavailableError('(unknown)');
      return state.suspended ? [] : [{ type: 'auth.tenant.suspended', v: 1, data: { reason: command.reason } }];
    case 'take_seat':
      if (state.id === undefined || state.suspended) throw new TenantUnavailableError(state.id ?? '(unknown)');
      if (state.seats.has(command.userId)) return [];
      if (state.seats.size >= state.maxUsers) throw new QuotaExceededError(String(state.maxUsers));
      return [{ type: 'auth.tenant.seat_taken', v: 1, data: { user_id: command.userId } }];
    case 'release_seat':
      return state.seats.has(command.userId) ? [{ type: 'auth.tenant.seat_released', v: 1, data: { user_id: command.userId } }] : [];
  }
}

export const tenantDecider: Decider<TenantCommand, TenantState, TenantEvent> = {
  events: tenantEvents,
  initialState: () => initialTenant,
  evolve: evolveTenant,
  decide: decideTenant,
};
