import type { Decider, EventDraft } from '@vigil/bus';
import {
  ForbiddenError,
  customRoleEvents,
  evolveCustomRoles,
  initialCustomRoles,
  isBuiltInRole,
  mayGrant,
  platformPermissions,
  RoleNameUnavailableError,
  RoleNotFoundError,
  TenantStateError,
  type CustomRoleEvent,
  type CustomRolesState,
  type Permission,
} from '@vigil/identity-contract';
import type { Administrator } from './user.ts';

/** Custom roles a tenant may hold at once: each is checked on every request of its holders at every edge. */
export const maxCustomRoles = 64;

export type CustomRoleCommand =
  | { readonly kind: 'define'; readonly role: string; readonly permissions: readonly Permission[]; readonly description: string; readonly by: Administrator }
  | { readonly kind: 'delete'; readonly role: string; readonly by: Administrator };

type Draft = EventDraft<CustomRoleEvent['type'], 1, CustomRoleEvent['data']>;

/**
 * Who may shape a role: only with permissions they hold themselves (so no one grants more than they have by writing
 * it into a role), never a platform administrator's (no tenant may mint one), and, for a role that exists, only if
 * they hold everything it grants now (an admin cannot cut down a role only an owner could have granted).
 */
function requireWithin(by: Administrator, granted: readonly Permission[]): void {
  for (const p of granted) {
    if (platformPermissions.has(p)) throw new ForbiddenError(`${p}, which no custom role may carry,`);
    if (!by.permissions.has(p)) throw new ForbiddenError(`${p}, to put it in a role,`);
  }
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((p) => b.includes(p));

export function decideCustomRoles(command: CustomRoleCommand, state: CustomRolesState): Draft[] {
  const existing = state.roles.get(command.role);
  switch (command.kind) {
    case 'define': {
      if (isBuiltInRole(command.role) || state.retired.has(command.role)) throw new RoleNameUnavailableError(command.role);
      requireWithin(command.by, command.permissions);
      const data = { role: command.role, permissions: [...command.permissions], description: command.description };
      if (!existing) {
        if (state.roles.size >= maxCustomRoles) throw new TenantStateError(`a tenant holds at most ${maxCustomRoles} custom roles`);
        return [{ type: 'auth.roles.defined', v: 1, data }];
      }
      requireWithin(command.by, existing.permissions);
      if (sameSet(existing.permissions, command.permissions) && existing.description === command.description) return [];
      return [{ type: 'auth.roles.changed', v: 1, data }];
    }
    case 'delete':
      if (!existing) throw new RoleNotFoundError(command.role);
      requireWithin(command.by, existing.permissions);
      return [{ type: 'auth.roles.deleted', v: 1, data: { role: command.role } }];
  }
}

export const customRolesDecider: Decider<CustomRoleCommand, CustomRolesState, CustomRoleEvent> = {
  events: customRoleEvents,
  initialState: () => initialCustomRoles,
  evolve: evolveCustomRoles,
  decide: decideCustomRoles,
};

/**
 * Whether an administrator may give these roles (to a new user, an invitee, or a user): each must exist in their
 * tenant, grant nothing beyond what they hold, and none be `platform_admin`.
 */
export function requireGrantable(by: Administrator, roles: readonly string[]): void {
  const unknown = roles.find((r) => by.catalog.grants(r) === undefined);
  if (unknown !== undefined) throw new RoleNotFoundError(unknown);
  if (!mayGrant(by, roles, by.catalog)) throw new ForbiddenError('to grant roles beyond your own');
}
