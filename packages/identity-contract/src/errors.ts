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
/** An API key is over the requests per minute it was made with; the edge adds Retry-After. */
export const RateLimitedError = defineError('VGL_RATE_LIMITED', 'too many requests: this API key allows %s per minute', 429);
/** Routes about a person's own sign-in (logout, sessions, MFA, password, making API keys) need a session, not a key. */
export const SessionRequiredError = defineError('VGL_SESSION_REQUIRED', 'this needs a signed-in session, not an API key', 403);
export const UserNotFoundError = defineError('VGL_USER_NOT_FOUND', 'no such user', 404);
export const UserStateError = defineError('VGL_USER_STATE', '%s', 409);
