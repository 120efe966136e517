import { defineError } from '@vigil/bus';

/**
 * Identity answers that are not results. A failed login says nothing more than "invalid credentials", whether the
 * user is unknown, the password wrong, the account locked or disabled: the audit trail has the reason.
 */
export const AuthenticationFailedError = defineError('VGL_AUTHENTICATION_FAILED', 'invalid credentials', 401);
export const TokenInvalidError = defineError('VGL_TOKEN_INVALID', 'the token is missing, invalid, expired or revoked', 401);
export const MfaFailedError = defineError('VGL_MFA_FAILED', 'the code is not valid', 401);
export const ForbiddenError = defineError('VGL_FORBIDDEN', 'this needs the permission %s', 403);
export const PasswordPolicyError = defineError('VGL_PASSWORD_POLICY', 'the password does not meet the policy: %s', 400);
export const NameTakenError = defineError('VGL_NAME_TAKEN', 'that %s is already taken in this tenant', 409);
export const TenantExistsError = defineError('VGL_TENANT_EXISTS', 'tenant %s exists already', 409);
export const TenantUnavailableError = defineError('VGL_TENANT_UNAVAILABLE', 'tenant %s does not exist or is suspended', 409);
export const TenantNotFoundError = defineError('VGL_TENANT_NOT_FOUND', 'no tenant %s', 404);
export const TenantStateError = defineError('VGL_TENANT_STATE', '%s', 409);
export const QuotaExceededError = defineError('VGL_QUOTA_EXCEEDED', 'the tenant has reached its quota of %s users', 409);
export const SessionNotFoundError = defineError('VGL_SESSION_NOT_FOUND', 'no such session', 404);
export const MfaStateError = defineError('VGL_MFA_STATE', '%s', 409);
export const ApiKeyQuotaExceededError = defineError('VGL_API_KEY_QUOTA_EXCEEDED', 'the tenant has reached its quota of %s API keys', 409);
export const ApiKeyNotFoundError = defineError('VGL_API_KEY_NOT_FOUND', 'no such API key', 404);
/** A key that is being made was revoked meanwhile (its user was disabled): it never comes to life. */
export const ApiKeyRevokedError = defineError('VGL_API_KEY_REVOKED', 'the API key was revoked before it was made', 409);
/** A principal is over its requests per minute (an API key's own, a user's the deployment's); the edge adds Retry-After. */
export const RateLimitedError = defineError('VGL_RATE_LIMITED', 'too many requests: %s may make %s per minute', 429);
/** Routes about a person's own sign-in (logout, sessions, MFA, password, making API keys) need a session, not a key. */
export const SessionRequiredError = defineError('VGL_SESSION_REQUIRED', 'this needs a signed-in session, not an API key', 403);
export const UserNotFoundError = defineError('VGL_USER_NOT_FOUND', 'no such user', 404);
export const UserStateError = defineError('VGL_USER_STATE', '%s', 409);
/** An edge met a credential of a tenant its view has not reached yet and could not catch up in time: retry. */
export const TenantViewBehindError = defineError('VGL_TENANT_VIEW_BEHIND', 'this edge has not caught up with tenant %s yet; retry', 503);
/** An edge met an API key made through another edge, and its view of the keys could not catch up in time: retry. */
export const ApiKeyViewBehindError = defineError('VGL_API_KEY_VIEW_BEHIND', 'this edge has not caught up with the API keys yet; retry', 503);
/** The tenant's plan does not include what the request needs (its flags may turn it on: `PATCH /tenants/{id}`). */
export const FeatureNotInPlanError = defineError('VGL_FEATURE_NOT_IN_PLAN', 'the tenant’s plan does not include %s', 403);
export const RoleNotFoundError = defineError('VGL_ROLE_NOT_FOUND', 'no role %s in this tenant', 404);
/** A built-in role's name, or a custom role's that was deleted (names are never reused: see CustomRoleDeleted). */
export const RoleNameUnavailableError = defineError('VGL_ROLE_NAME_UNAVAILABLE', 'the role name %s is built in or was used before', 409);
/**
 * Every refusal of an invitation token, whatever the cause (not one of ours, unknown, wrong secret, expired, revoked,
 * accepted already, its inviter no longer allowed to grant its roles): the answer never tells whether it exists.
 */
export const InvitationInvalidError = defineError('VGL_INVITATION_INVALID', 'invalid or expired invitation', 401);
/** For administrators: no pending invitation with this id in their tenant (another tenant's is not found either). */
export const InvitationNotFoundError = defineError('VGL_INVITATION_NOT_FOUND', 'no such pending invitation', 404);
