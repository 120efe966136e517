import Type, { type Static } from 'typebox';
import { defineEvent, type EventDefinition } from '../event-definition.ts';
import { StreamName } from '../stream-names.ts';

/** The security-event categories every audit record carries (DESIGN.md, issue "Audit and replay"). */
export const AuditCategory = Type.Union([
  Type.Literal('authentication'),
  Type.Literal('authorization'),
  Type.Literal('key_access'),
  Type.Literal('certificate_validation'),
  Type.Literal('device_access'),
  Type.Literal('administration'),
  Type.Literal('system'),
]);
export type AuditCategory = Static<typeof AuditCategory>;

export const AuditSeverity = Type.Union([
  Type.Literal('info'),
  Type.Literal('notice'),
  Type.Literal('warning'),
  Type.Literal('critical'),
]);
export type AuditSeverity = Static<typeof AuditSeverity>;

/**
 * A consumer refused a message it can never process (bad envelope, unknown type, failed schema, or redelivered
 * past its limit). The payload itself is not copied: it may hold a secret.
 */
export const MessageRejected = defineEvent(
  StreamName.Audit,
  'audit.message.rejected',
  1,
  Type.Object(
    {
      category: Type.Literal('system'),
      severity: AuditSeverity,
      consumer: Type.String({ minLength: 1 }),
      stream: Type.String({ minLength: 1 }),
      stream_seq: Type.Integer({ minimum: 1 }),
      subject: Type.String({ minLength: 1 }),
      reason: Type.Union([
        Type.Literal('malformed'),
        Type.Literal('unknown_type'),
        Type.Literal('invalid'),
        Type.Literal('max_deliveries'),
      ]),
      problems: Type.Array(Type.String({ maxLength: 500 }), { maxItems: 20 }),
    },
    { additionalProperties: false },
  ),
);

/** Where a summarised event lies: its stream, sequence and subject, and what it was (never its data). */
export const SourceReference = Type.Object(
  {
    stream: Type.String({ minLength: 1, maxLength: 64 }),
    seq: Type.Integer({ minimum: 1 }),
    subject: Type.String({ minLength: 1, maxLength: 500 }),
    event_id: Type.String({ format: 'uuid' }),
    type: Type.String({ minLength: 1, maxLength: 200 }),
    v: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

/**
 * A state-changing event of another stream (KEY_REQUEST, AUTH_EVENT, DEVICE_REGISTRY), summarised onto AUDIT by the
 * audit service: who (the envelope's actor, tenant, correlation id, copied from the source) did what (type) to which
 * aggregate (subject), and where the full event lies. Its id is derived from the source event's id, so a redelivered
 * source event yields the same summary and the server stores it once. The source's data is never copied.
 */
export const EventSummarised = defineEvent(
  StreamName.Audit,
  'audit.event.summarised',
  1,
  Type.Object({ category: AuditCategory, severity: AuditSeverity, source: SourceReference }, { additionalProperties: false }),
);

/**
 * The audit chain's head at a record position that is a multiple of the checkpoint interval, published by the audit
 * service on `audit._platform.chain`: a copy of the AUDIT stream alone then proves an `audit_log` table (or an
 * export) up to that record. Checkpoints are not records of the chain themselves.
 */
export const ChainCheckpointed = defineEvent(
  StreamName.Audit,
  'audit.chain.checkpointed',
  1,
  Type.Object(
    {
      category: Type.Literal('system'),
      severity: AuditSeverity,
      /** How the hashes are computed (README "For auditors"). */
      algorithm: Type.Literal('sha256-jcs-v1'),
      /** The record's number in the chain, from 1. */
      position: Type.Integer({ minimum: 1 }),
      /** The AUDIT stream sequence of that record. */
      seq: Type.Integer({ minimum: 1 }),
      hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    },
    { additionalProperties: false },
  ),
);

export const auditEvents: readonly EventDefinition[] = [MessageRejected, EventSummarised, ChainCheckpointed];
