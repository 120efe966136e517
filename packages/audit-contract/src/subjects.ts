/** Bus subjects between the edge (audit routes) and the audit service. */
export const auditSubjects = {
  /** A page of the audit trail, filtered, in chain order; the tenant is the caller's. */
  events: 'qry.audit.events',
} as const;
