import type { Static } from 'typebox';
import type { BuiltInRoleName, RoleName } from '@vigil/schemas';

/** A role a user holds: a built-in one, or a custom role of their tenant. */
export type Role = Static<typeof RoleName>;
export type BuiltInRole = Static<typeof BuiltInRoleName>;

/** Every permission a route may require, as `resource:action`. */
export const permissions = {
  tenantsCreate: 'tenants:create',
  /** Suspend and reactivate a tenant, change its quotas: platform administrators only. */
  tenantsManage: 'tenants:manage',
  usersCreate: 'users:create',
  usersRead: 'users:read',
  /** Disable a user of my tenant: their sessions end and their API keys are revoked. */
  usersDisable: 'users:disable',
  /** Delete a user of my tenant (soft: sessions end, API keys are revoked, the seat is free) and restore one. */
  usersDelete: 'users:delete',
  /** End a lockout before its time. */
  usersUnlock: 'users:unlock',
  /** Assign and revoke roles, each only within the caller's own permissions (`mayGrant`). */
  rolesAssign: 'roles:assign',
  /** Define, change and delete the tenant's custom roles, each only with permissions the caller holds. */
  rolesManage: 'roles:manage',
  sessionsRevoke: 'sessions:revoke',
  /** Make API keys for myself, with a subset of my own permissions. */
  apiKeysCreate: 'api_keys:create',
  /** List and revoke anyone's API keys in my tenant (my own need only `profile:self`). */
  apiKeysManage: 'api_keys:manage',
  auditRead: 'audit:read',
  devicesRead: 'devices:read',
  devicesWrite: 'devices:write',
  /** Read the KME topology (KMEs, SAEs, QKD links); platform administrators only, the KMEs serve every tenant. */
  kmeRead: 'kme:read',
  /** Change the KME topology. */
  kmeAdmin: 'kme:admin',
  /** What every signed-in person may do to their own account: sessions, logout, MFA, password, own API keys. */
  profileSelf: 'profile:self',
} as const;
export type Permission = (typeof permissions)[keyof typeof permissions];

/** Every permission, in declaration order (for schemas: an API key may be given only these). */
export const permissionNames: readonly Permission[] = Object.values(permissions);

export function isPermission(value: string): value is Permission {
  return permissionNames.some((p) => p === value);
}

/** What only platform administrators hold: no custom role may carry these, in any tenant. */
export const platformPermissions: ReadonlySet<Permission> = new Set<Permission>(['tenants:create', 'tenants:manage', 'kme:read', 'kme:admin']);

const userAdministration: readonly Permission[] = [
  'users:create',
  'users:read',
  'users:disable',
  'users:delete',
  'users:unlock',
  'roles:assign',
  'roles:manage',
  'sessions:revoke',
  'api_keys:manage',
];

/** The built-in roles. A platform administrator lives in tenant `platform` and manages tenants. */
export const rolePermissions: Readonly<Record<BuiltInRole, readonly Permission[]>> = {
  platform_admin: ['tenants:create', 'tenants:manage', ...userAdministration, 'audit:read', 'kme:read', 'kme:admin', 'api_keys:create', 'profile:self'],
  owner: [...userAdministration, 'audit:read', 'devices:read', 'devices:write', 'api_keys:create', 'profile:self'],
  admin: [...userAdministration, 'devices:read', 'devices:write', 'api_keys:create', 'profile:self'],
  operator: ['devices:read', 'devices:write', 'api_keys:create', 'profile:self'],
  auditor: ['audit:read', 'users:read', 'devices:read', 'api_keys:create', 'profile:self'],
  viewer: ['devices:read', 'api_keys:create', 'profile:self'],
};

export function isBuiltInRole(role: string): role is BuiltInRole {
  return Object.hasOwn(rolePermissions, role);
}

/**
 * What each role of one tenant grants: the built-in roles, and the tenant's custom roles. A role it does not know (a
 * deleted custom role, still named in a user's roles or an access token) grants nothing.
 */
export interface RoleCatalog {
  grants(role: string): readonly Permission[] | undefined;
}

/** The built-in roles alone: a tenant with no custom role. */
export const builtInRoles: RoleCatalog = {
  grants: (role) => (isBuiltInRole(role) ? rolePermissions[role] : undefined),
};

/** The built-in roles and a tenant's custom roles (name → permissions). */
export function roleCatalog(custom: ReadonlyMap<string, readonly Permission[]>): RoleCatalog {
  if (custom.size === 0) return builtInRoles;
  return { grants: (role) => (isBuiltInRole(role) ? rolePermissions[role] : custom.get(role)) };
}

/** Who holds permissions directly rather than through roles: an API key, or a principal of either kind. */
export interface PermissionHolder {
  readonly permissions: ReadonlySet<string>;
}

export function permissionsOf(roles: readonly string[], catalog: RoleCatalog = builtInRoles): ReadonlySet<Permission> {
  return new Set(roles.flatMap((r) => catalog.grants(r) ?? []));
}

/** Whether roles (a signed-in user's, built-in) or a holder's own set (an API key, any edge principal) grant a permission. */
export function hasPermission(holder: readonly string[] | PermissionHolder, permission: string): boolean {
  const held: ReadonlySet<string> = 'permissions' in holder ? holder.permissions : permissionsOf(holder);
  return held.has(permission);
}

/**
 * A caller may grant only roles that give nothing beyond their own permissions, and never `platform_admin` (only
 * the bootstrap makes one), so no one can raise their own privileges by creating a user. The same rule bounds who
 * may act on a user at all: only a caller who could have granted every role that user holds. A role the catalog does
 * not know grants nothing, so it bounds nothing here; whether it may be assigned is the caller's check (it must exist).
 */
export function mayGrant(caller: readonly string[] | PermissionHolder, roles: readonly string[], catalog: RoleCatalog = builtInRoles): boolean {
  if (roles.includes('platform_admin')) return false;
  const own: ReadonlySet<string> = 'permissions' in caller ? caller.permissions : permissionsOf(caller, catalog);
  return roles.every((r) => (catalog.grants(r) ?? []).every((p) => own.has(p)));
}
