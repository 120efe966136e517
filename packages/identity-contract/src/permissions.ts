import type { Static } from 'typebox';
import type { RoleName } from '@vigil/schemas';

export type Role = Static<typeof RoleName>;

/** Every permission a route may require, as `resource:action`. */
export const permissions = {
  tenantsCreate: 'tenants:create',
  usersCreate: 'users:create',
  usersRead: 'users:read',
  sessionsRevoke: 'sessions:revoke',
  auditRead: 'audit:read',
  devicesRead: 'devices:read',
  devicesWrite: 'devices:write',
  /** What every signed-in person may do to their own account: sessions, logout, MFA. */
  profileSelf: 'profile:self',
} as const;
export type Permission = (typeof permissions)[keyof typeof permissions];

/** The built-in roles. A platform administrator lives in tenant `platform` and manages tenants. */
export const rolePermissions: Readonly<Record<Role, readonly Permission[]>> = {
  platform_admin: ['tenants:create', 'users:create', 'users:read', 'sessions:revoke', 'audit:read', 'profile:self'],
  owner: ['users:create', 'users:read', 'sessions:revoke', 'audit:read', 'devices:read', 'devices:write', 'profile:self'],
  admin: ['users:create', 'users:read', 'sessions:revoke', 'devices:read', 'devices:write', 'profile:self'],
  operator: ['devices:read', 'devices:write', 'profile:self'],
  auditor: ['audit:read', 'users:read', 'devices:read', 'profile:self'],
  viewer: ['devices:read', 'profile:self'],
};

export function permissionsOf(roles: readonly Role[]): ReadonlySet<Permission> {
  return new Set(roles.flatMap((r) => rolePermissions[r]));
}

export function hasPermission(roles: readonly Role[], permission: string): boolean {
  return roles.some((r) => rolePermissions[r].some((p) => p === permission));
}

/**
 * A caller may grant only roles that give nothing beyond their own permissions, and never `platform_admin` (only
 * the bootstrap makes one), so no one can raise their own privileges by creating a user.
 */
export function mayGrant(callerRoles: readonly Role[], roles: readonly Role[]): boolean {
  if (roles.includes('platform_admin')) return false;
  const own = permissionsOf(callerRoles);
  return roles.every((r) => rolePermissions[r].every((p) => own.has(p)));
}
