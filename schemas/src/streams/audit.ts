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

export const auditEvents: readonly EventDefinition[] = [MessageRejected];
