import type { Config } from '@vigil/config';
import type { IdentityPolicy } from './identity-context.ts';
import { maxPasswordLength } from './password-policy.ts';

/** The identity rules of a deployment, from its settings. */
export function identityPolicy(config: Config): IdentityPolicy {
  return {
    tokens: { issuer: config.VIGIL_JWT_ISSUER, audience: config.VIGIL_JWT_AUDIENCE, accessTtlSeconds: config.VIGIL_ACCESS_TOKEN_SECONDS, mfaTtlSeconds: 300 },
    sessionMaxMs: config.VIGIL_SESSION_MAX_SECONDS * 1000,
    sessionIdleMs: config.VIGIL_SESSION_IDLE_SECONDS * 1000,
    maxSessionsPerUser: config.VIGIL_MAX_SESSIONS_PER_USER,
    password: { minLength: config.VIGIL_PASSWORD_MIN_LENGTH, maxLength: maxPasswordLength },
    lockout: { threshold: config.VIGIL_LOCKOUT_THRESHOLD, lockMs: config.VIGIL_LOCKOUT_SECONDS * 1000 },
    tenantMaxUsers: config.VIGIL_TENANT_MAX_USERS,
    tenantMaxApiKeys: config.VIGIL_TENANT_MAX_API_KEYS,
    tenantMaxDevices: config.VIGIL_TENANT_MAX_DEVICES,
    tenantDefaultPlan: config.VIGIL_TENANT_DEFAULT_PLAN,
    totpIssuer: config.VIGIL_JWT_ISSUER === 'vigil' ? 'Vigil' : config.VIGIL_JWT_ISSUER,
  };
}
