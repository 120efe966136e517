/** Bus subjects between the edge (auth and admin routes) and the identity workers. */
export const identitySubjects = {
  login: 'cmd.identity.login',
  verifyMfa: 'cmd.identity.verify_mfa',
  refresh: 'cmd.identity.refresh',
  logout: 'cmd.identity.logout',
  revokeSession: 'cmd.identity.revoke_session',
  enrollMfa: 'cmd.identity.enroll_mfa',
  confirmMfa: 'cmd.identity.confirm_mfa',
  createTenant: 'cmd.identity.create_tenant',
  createUser: 'cmd.identity.create_user',
  sessions: 'qry.identity.sessions',
  /** The public keys that verify access tokens; every edge asks at start and when it meets an unknown `kid`. */
  jwks: 'qry.identity.jwks',
} as const;

/** The tenant every platform administrator lives in. */
export const platformTenant = 'platform';

/** Every event of every session: what edges follow to learn revocations within a second. */
export const sessionEventsFilter = 'auth.*.session.*';

export function sessionSubject(tenant: string, sessionId: string): string {
  return `auth.${tenant}.session.${sessionId}`;
}
