export { AuditCallerRequiredError, AuditQueryError, AuditTenantForbiddenError } from './errors.ts';
export { AuditEventsPage, AuditEventsQuery, AuditEventsQueryString, auditPageLimits, AuditRecordView, auditSeverityOrder } from './messages.ts';
export { parseAuditEventsPage, parseAuditEventsQuery } from './parse.ts';
export { auditSubjects } from './subjects.ts';
