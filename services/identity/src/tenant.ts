import type { Decider, EventDraft } from '@vigil/bus';
import {
  ApiKeyQuotaExceededError,
  FeatureNotInPlanError,
  features,
  featuresOf,
  hasFeature,
  platformTenant,
  QuotaExceededError,
  TenantExistsError,
  TenantNotFoundError,
  TenantStateError,
  TenantUnavailableError,
} from '@vigil/identity-contract';
import {
  ApiKeySlotReleased,
  ApiKeySlotTaken,
  SeatReleased,
  SeatTaken,
  TenantCreated,
  TenantPlanChanged,
  TenantQuotaChanged,
  TenantReactivated,
  TenantSuspended,
  type DataOf,
  type EventOf,
} from '@vigil/schemas';

export const tenantEvents = [TenantCreated, TenantSuspended, TenantReactivated, TenantQuotaChanged, TenantPlanChanged, SeatTaken, SeatReleased, ApiKeySlotTaken, ApiKeySlotReleased] as const;
export type TenantEvent = EventOf<(typeof tenantEvents)[number]>;
export type TenantQuotas = DataOf<typeof TenantQuotaChanged>;

export interface TenantState {
  readonly id?: string;
  readonly name: string;
  readonly suspended: boolean;
  /** While suspended, since when (the suspension's time, which edges compare access tokens' issue times with). */
  readonly suspendedAt?: number;
  /**
   * When the tenant was last reactivated: a session started before it was started before (or during) a suspension,
   * and is refused at its next refresh, so a suspension ends every session for good without touching each one.
   */
  readonly sessionsValidFrom?: number;
  readonly maxUsers: number;
  /** Absent for tenants made before API keys had a quota: the deployment's default applies. */
  readonly maxApiKeys?: number;
  /** Absent for tenants made before device quotas (until one is set): no device quota. */
  readonly maxDevices?: number;
  /** Absent for tenants made before plans (until one is set), which keep every feature. */
  readonly plan?: string;
  /** The tenant's own flags beyond its plan. */
  readonly featuresEnabled: readonly string[];
  readonly featuresDisabled: readonly string[];
  /** What the plan and flags gave, as recorded; absent for tenants made before plans (every feature). */
  readonly features?: readonly string[];
  /** Users holding a seat: the quota is settled by appending to this subject with the expected sequence. */
  readonly seats: ReadonlySet<string>;
  /** API keys holding a slot, with their expiry: an expired key stops counting by itself. */
  readonly apiKeySlots: ReadonlyMap<string, number>;
}

export type TenantCommand =
  | {
      readonly kind: 'create';
      readonly tenantId: string;
      readonly name: string;
      readonly maxUsers: number;
      readonly maxApiKeys: number;
      readonly maxDevices: number;
      readonly plan: string;
    }
  | { readonly kind: 'suspend'; readonly tenantId: string; readonly reason: string }
  | { readonly kind: 'reactivate'; readonly tenantId: string }
  | { readonly kind: 'change_quotas'; readonly tenantId: string; readonly quotas: TenantQuotas }
  | { readonly kind: 'change_plan'; readonly tenantId: string; readonly plan: string; readonly enabled: readonly string[]; readonly disabled: readonly string[] }
  | { readonly kind: 'take_seat'; readonly userId: string }
  | { readonly kind: 'release_seat'; readonly userId: string }
  | {
      readonly kind: 'take_api_key_slot';
      readonly keyId: string;
      readonly expiresAt: number;
      readonly now: number;
      readonly defaultMaxApiKeys: number;
    }
  | { readonly kind: 'release_api_key_slot'; readonly keyId: string };

export const initialTenant: TenantState = {
  name: '',
  suspended: false,
  maxUsers: 0,
  featuresEnabled: [],
  featuresDisabled: [],
  seats: new Set(),
  apiKeySlots: new Map(),
};

export function evolveTenant(state: TenantState, event: TenantEvent): TenantState {
  switch (event.type) {
    case 'auth.tenant.created': {
      const { max_api_keys: maxApiKeys, max_devices: maxDevices, plan, features: given } = event.data;
      return {
        ...state,
        id: event.data.tenant_id,
        name: event.data.name,
        maxUsers: event.data.max_users,
        ...(maxApiKeys === undefined ? {} : { maxApiKeys }),
        ...(maxDevices === undefined ? {} : { maxDevices }),
        ...(plan === undefined ? {} : { plan }),
        ...(given === undefined ? {} : { features: given }),
      };
    }
    case 'auth.tenant.suspended':
      return { ...state, suspended: true, suspendedAt: Date.parse(event.at) };
    case 'auth.tenant.reactivated': {
      const { suspendedAt: _ended, ...rest } = state;
      return { ...rest, suspended: false, sessionsValidFrom: Date.parse(event.at) };
    }
    case 'auth.tenant.quota_changed': {
      const { max_users: maxUsers, max_api_keys: maxApiKeys, max_devices: maxDevices } = event.data;
      return {
        ...state,
        ...(maxUsers === undefined ? {} : { maxUsers }),
        ...(maxApiKeys === undefined ? {} : { maxApiKeys }),
        ...(maxDevices === undefined ? {} : { maxDevices }),
      };
    }
    case 'auth.tenant.plan_changed':
      return {
        ...state,
        plan: event.data.plan,
        featuresEnabled: event.data.features_enabled,
        featuresDisabled: event.data.features_disabled,
        features: event.data.features,
      };
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

/** Whether a session started at `startedAt` outlived a suspension of its tenant (and so must not be refreshed). */
export function predatesReactivation(state: TenantState, startedAt: number): boolean {
  return state.sessionsValidFrom !== undefined && startedAt < state.sessionsValidFrom;
}

type Draft = EventDraft<TenantEvent['type'], 1, TenantEvent['data']>;

function requireActive(state: TenantState): void {
  if (state.id === undefined || state.suspended) throw new TenantUnavailableError(state.id ?? '(unknown)');
}

function requireKnown(state: TenantState, tenantId: string): string {
  if (state.id === undefined) throw new TenantNotFoundError(tenantId);
  return state.id;
}

/** The quotas of a command that differ from the state's: only a real change is recorded. */
function changedQuotas(state: TenantState, quotas: TenantQuotas): TenantQuotas {
  return {
    ...(quotas.max_users !== undefined && quotas.max_users !== state.maxUsers ? { max_users: quotas.max_users } : {}),
    ...(quotas.max_api_keys !== undefined && quotas.max_api_keys !== state.maxApiKeys ? { max_api_keys: quotas.max_api_keys } : {}),
    ...(quotas.max_devices !== undefined && quotas.max_devices !== state.maxDevices ? { max_devices: quotas.max_devices } : {}),
  };
}

export function decideTenant(command: TenantCommand, state: TenantState): Draft[] {
  switch (command.kind) {
    case 'create':
      if (state.id !== undefined) throw new TenantExistsError(command.tenantId);
      return [
        {
          type: 'auth.tenant.created',
          v: 1,
          data: {
            tenant_id: command.tenantId,
            name: command.name,
            max_users: command.maxUsers,
            max_api_keys: command.maxApiKeys,
            max_devices: command.maxDevices,
            plan: command.plan,
            features: featuresOf({ plan: command.plan, enabled: [], disabled: [] }),
          },
        },
      ];
    case 'suspend':
      // Every platform administrator lives in the platform tenant: suspending it would lock everyone out for good.
      if (requireKnown(state, command.tenantId) === platformTenant) throw new TenantStateError('the platform tenant cannot be suspended');
      return state.suspended ? [] : [{ type: 'auth.tenant.suspended', v: 1, data: { reason: command.reason } }];
    case 'reactivate':
      requireKnown(state, command.tenantId);
      return state.suspended ? [{ type: 'auth.tenant.reactivated', v: 1, data: {} }] : [];
    case 'change_quotas': {
      requireKnown(state, command.tenantId);
      const changed = changedQuotas(state, command.quotas);
      return Object.keys(changed).length === 0 ? [] : [{ type: 'auth.tenant.quota_changed', v: 1, data: changed }];
    }
    case 'change_plan': {
      // The platform tenant has every feature, always: its administrators run the deployment.
      if (requireKnown(state, command.tenantId) === platformTenant) throw new TenantStateError('the platform tenant has every feature; it has no plan to change');
      const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((f) => b.includes(f));
      if (state.plan === command.plan && same(state.featuresEnabled, command.enabled) && same(state.featuresDisabled, command.disabled)) return [];
      const { plan, enabled, disabled } = command;
      return [{ type: 'auth.tenant.plan_changed', v: 1, data: { plan, features_enabled: [...enabled], features_disabled: [...disabled], features: featuresOf({ plan, enabled, disabled }) } }];
    }
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
      if (!hasFeature(state.id ?? '', state.features, features.apiKeys)) throw new FeatureNotInPlanError(features.apiKeys);
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
