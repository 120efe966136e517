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
export const QuotaExceededError = defineError('VGL_QUOTA_EXCEEDED', 'the tenant has reached its quota of %s users', 409);
export const SessionNotFoundError = defineError('VGL_SESSION_NOT_FOUND', 'no such session', 404);
export const MfaStateError = defineError('VGL_MFA_STATE', '%s', 409);
