import { CustomRoleChanged, CustomRoleDefined, CustomRoleDeleted, type EventOf } from '@vigil/schemas';
import { isPermission, platformPermissions, roleCatalog, type Permission, type RoleCatalog } from './permissions.ts';

/**
 * A tenant's custom roles, folded from their events (`auth.<tenant>.roles.<tenant>`): the identity worker decides on
 * this state, and every edge keeps it per tenant to know what each role grants.
 */
export const customRoleEvents = [CustomRoleDefined, CustomRoleChanged, CustomRoleDeleted] as const;
export type CustomRoleEvent = EventOf<(typeof customRoleEvents)[number]>;

export interface CustomRole {
  readonly permissions: readonly Permission[];
  readonly description: string;
}

/** A tenant's custom roles, and the names of deleted ones, which are never reused. */
export interface CustomRolesState {
  readonly roles: ReadonlyMap<string, CustomRole>;
  readonly retired: ReadonlySet<string>;
}

export const initialCustomRoles: CustomRolesState = { roles: new Map(), retired: new Set() };

export function evolveCustomRoles(state: CustomRolesState, event: CustomRoleEvent): CustomRolesState {
  switch (event.type) {
    case 'auth.roles.defined':
    case 'auth.roles.changed':
      return { ...state, roles: new Map([...state.roles, [event.data.role, { permissions: permissionList(event.data.permissions), description: event.data.description }]]) };
    case 'auth.roles.deleted': {
      const roles = new Map(state.roles);
      roles.delete(event.data.role);
      return { roles, retired: new Set([...state.retired, event.data.role]) };
    }
  }
}

/** The permissions an event lists that this release knows and a custom role may carry; others grant nothing here. */
function permissionList(names: readonly string[]): Permission[] {
  return names.filter((p): p is Permission => isPermission(p) && !platformPermissions.has(p));
}

/** What every role of the tenant grants: the built-in roles and these custom ones. */
export function catalogOf(state: CustomRolesState): RoleCatalog {
  return roleCatalog(new Map([...state.roles].map(([name, role]) => [name, role.permissions])));
}
