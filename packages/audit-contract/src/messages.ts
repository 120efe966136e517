import { AuditCategory, AuditSeverity, TenantId } from '@vigil/schemas';
import Type, { type Static } from 'typebox';

/** Records per page: the default when `limit` is not given, and the most one page may ask for. */
export const auditPageLimits = { default: 100, max: 1000 } as const;

/** Severities from the lowest to the highest: `severity=warning` asks for warning and critical. */
export const auditSeverityOrder = ['info', 'notice', 'warning', 'critical'] as const;

/** The filters every audit query may combine (AND); none names the caller's tenant, which comes from the caller. */
const auditFilters = {
  category: Type.Optional(AuditCategory),
  severity: Type.Optional({ ...AuditSeverity, description: 'Minimum severity: `warning` gives warning and critical records.' }),
  actor_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Records whose actor has this id (a user id, an SAE id, ...).' })),
  type: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$',
      description: 'An event type: records of that type, and summaries of events of that type (`details.source.type`).',
    }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Records at or after this time (RFC 3339).' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Records before this time (RFC 3339); must be after `since`.' })),
  tenant: Type.Optional({
    ...TenantId,
    description: 'Platform callers only: one tenant’s records (default: every record). Anyone else may name only their own tenant.',
  }),
  order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'Chain order (`asc`, the default) or newest first (`desc`).' })),
};

const afterDescription = 'The cursor: the `next` of the previous page (a record position).';
const limitDescription = `Most records in the page (default ${auditPageLimits.default}, at most ${auditPageLimits.max}). A page may hold fewer when its records are large: follow \`next\` until it is null.`;

/** The data of `qry.audit.events`: the filters, the cursor and the page size, as numbers. */
export const AuditEventsQuery = Type.Object(
  {
    ...auditFilters,
    after: Type.Optional(Type.Integer({ minimum: 0, description: afterDescription })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: auditPageLimits.max, description: limitDescription })),
  },
  { additionalProperties: false },
);
export type AuditEventsQuery = Static<typeof AuditEventsQuery>;

/**
 * The query string of `GET /audit/events`: the same fields, with the cursor and the page size in decimal digits and
 * nothing else, so `2.5`, `1e3`, `+7` or ` 7` are refused rather than rounded or read leniently.
 */
export const AuditEventsQueryString = Type.Object(
  {
    ...auditFilters,
    after: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,14})$', description: afterDescription })),
    // 1 to 1000: auditPageLimits.max.
    limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]{0,2}|1000)$', description: limitDescription })),
  },
  { additionalProperties: false },
);
export type AuditEventsQueryString = Static<typeof AuditEventsQueryString>;

/**
 * One record of the chain as the `audit_log` table holds it, with its chain fields. Without `prev_hash` and `hash`
 * it is exactly the object that was hashed: `hash = SHA-256(bytes(prev_hash) ‖ JCS(record))` (README, "For
 * auditors"). Its fields are plain strings, not enums: a record is shown as stored, even a tampered one.
 */
export const AuditRecordView = Type.Object(
  {
    position: Type.Integer({ minimum: 1, description: 'The record’s number in the chain, from 1.' }),
    seq: Type.Integer({ minimum: 1, description: 'Its sequence on the AUDIT stream.' }),
    event_id: Type.String(),
    type: Type.String(),
    v: Type.Integer(),
    at: Type.String({ description: 'UTC, ISO 8601 to the millisecond.' }),
    tenant: Type.Union([Type.String(), Type.Null()]),
    actor: Type.Object({ kind: Type.String(), id: Type.String() }, { additionalProperties: false }),
    correlation_id: Type.String(),
    causation_id: Type.Union([Type.String(), Type.Null()]),
    category: Type.String(),
    severity: Type.String(),
    subject: Type.String({ description: 'The AUDIT subject the event was appended to.' }),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'The event’s data less category and severity; for a summary, `{source: {stream, seq, subject, event_id, type, v}}`.' }),
    prev_hash: Type.String({ description: 'The hash of the record at position - 1 (64 zeros for record 1).' }),
    hash: Type.String(),
  },
  { additionalProperties: false },
);
export type AuditRecordView = Static<typeof AuditRecordView>;

export const AuditEventsPage = Type.Object(
  {
    algorithm: Type.Literal('sha256-jcs-v1', { description: 'How `hash` is computed (README, "For auditors").' }),
    stream: Type.Literal('AUDIT', { description: 'The stream whose sequences `seq` are.' }),
    records: Type.Array(AuditRecordView),
    next: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Pass as `after` for the next page; null on the last page.' }),
  },
  { additionalProperties: false, description: 'A page of audit records, in the order asked for.' },
);
export type AuditEventsPage = Static<typeof AuditEventsPage>;
