/** Bus subjects between the edge (auth and admin routes) and the identity workers. */
export const identitySubjects = {
  login: 'cmd.identity.login',
  verifyMfa: 'cmd.identity.verify_mfa',
  refresh: 'cmd.identity.refresh',
  logout: 'cmd.identity.logout',
  revokeSession: 'cmd.identity.revoke_session',
  enrollMfa: 'cmd.identity.enroll_mfa',
  confirmMfa: 'cmd.identity.confirm_mfa',
  disableMfa: 'cmd.identity.disable_mfa',
  regenerateRecoveryCodes: 'cmd.identity.regenerate_recovery_codes',
  createTenant: 'cmd.identity.create_tenant',
  suspendTenant: 'cmd.identity.suspend_tenant',
  reactivateTenant: 'cmd.identity.reactivate_tenant',
  changeTenantQuotas: 'cmd.identity.change_tenant_quotas',
  changeTenantPlan: 'cmd.identity.change_tenant_plan',
  defineRole: 'cmd.identity.define_role',
  deleteRole: 'cmd.identity.delete_role',
  createUser: 'cmd.identity.create_user',
  changePassword: 'cmd.identity.change_password',
  createApiKey: 'cmd.identity.create_api_key',
  revokeApiKey: 'cmd.identity.revoke_api_key',
  disableUser: 'cmd.identity.disable_user',
  deleteUser: 'cmd.identity.delete_user',
  restoreUser: 'cmd.identity.restore_user',
  unlockUser: 'cmd.identity.unlock_user',
  assignRole: 'cmd.identity.assign_role',
  revokeRole: 'cmd.identity.revoke_role',
  invite: 'cmd.identity.invite',
  acceptInvitation: 'cmd.identity.accept_invitation',
  revokeInvitation: 'cmd.identity.revoke_invitation',
  sessions: 'qry.identity.sessions',
  apiKeys: 'qry.identity.api_keys',
  users: 'qry.identity.users',
  roles: 'qry.identity.roles',
  invitations: 'qry.identity.invitations',
  /** The public keys that verify access tokens; every edge asks at start and when it meets an unknown `kid`. */
  jwks: 'qry.identity.jwks',
} as const;

/** The tenant every platform administrator lives in. */
export const platformTenant = 'platform';

/** Every tenant's own aggregate (`auth.<tenant>.tenant.<tenant>`): what edges follow to learn suspensions. */
export const tenantEventsFilter = 'auth.*.tenant.*';

export function tenantSubject(tenant: string): string {
  return `auth.${tenant}.tenant.${tenant}`;
}

/** Every tenant's custom roles (`auth.<tenant>.roles.<tenant>`): what edges follow to know what each role grants. */
export const customRoleEventsFilter = 'auth.*.roles.*';

export function customRolesSubject(tenant: string): string {
  return `auth.${tenant}.roles.${tenant}`;
}

/** Every event of every session: what edges follow to learn revocations within a second. */
export const sessionEventsFilter = 'auth.*.session.*';

export function sessionSubject(tenant: string, sessionId: string): string {
  return `auth.${tenant}.session.${sessionId}`;
}

/** Every event of every API key: what edges follow to authenticate keys with no database. */
export const apiKeyEventsFilter = 'auth.*.apikey.*';

export function apiKeySubject(tenant: string, keyId: string): string {
  return `auth.${tenant}.apikey.${keyId}`;
}
