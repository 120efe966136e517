import { defineError } from '@vigil/bus';

/** Audit answers that are not pages: whose records a caller may read, and queries that cannot mean anything. */
export const AuditTenantForbiddenError = defineError('VGL_AUDIT_TENANT_FORBIDDEN', 'only the platform may read the audit records of another tenant (%s)', 403);
export const AuditCallerRequiredError = defineError('VGL_AUDIT_CALLER_REQUIRED', 'an audit query needs an authenticated caller with a tenant', 401);
export const AuditQueryError = defineError('VGL_AUDIT_QUERY', 'bad audit query: %s', 400);
