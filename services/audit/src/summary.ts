// What the audit trail says about a state change on another stream, free of I/O: its category and severity, and
// the summary event, a pure function of the source event and where it lies (so a redelivery gives the same one).
import { EventSummarised, StreamName, type AnyEnvelope, type AuditCategory, type AuditSeverity, type EventOf } from '@vigil/schemas';
import { derivedId } from '@vigil/crypto';

/** The streams whose events are summarised: state changes. Telemetry and key material never are. */
export const summarisedStreams = [StreamName.KeyRequest, StreamName.AuthEvent, StreamName.DeviceRegistry] as const;
export type SummarisedStream = (typeof summarisedStreams)[number];

const authentication = /(^|[._])(login|logout|logged|session|sessions|mfa|totp|password|lockout|locked|unlocked|token|refresh|authenticat\w*|signed_in|signed_out)([._]|$)/;
const authorization = /(^|[._])(role|roles|permission|permissions|grant|granted|revoke|revoked|rbac)([._]|$)/;
const warning = /(fail|failed|failure|denied|refused|rejected|locked|lockout|revoked|invalid)/;

export function categoryOf(stream: SummarisedStream, type: string): AuditCategory {
  switch (stream) {
    case StreamName.KeyRequest:
      return /(^|\.)topology\./.test(type) ? 'administration' : 'key_access';
    case StreamName.DeviceRegistry:
      return 'device_access';
    case StreamName.AuthEvent:
      if (authentication.test(type)) return 'authentication';
      if (authorization.test(type)) return 'authorization';
      return 'administration';
  }
}

export function severityOf(type: string): AuditSeverity {
  return warning.test(type) ? 'warning' : 'info';
}

export interface Summary {
  /** `audit.<tenant>.<category>`, `_platform` when the source has no tenant. */
  readonly subject: string;
  readonly event: EventOf<typeof EventSummarised>;
}

/**
 * The summary of one source event. Envelope fields come from the source (time, tenant, actor, correlation), the
 * source id becomes the causation id, and the summary's own id is derived from the source id. No data is copied.
 */
export function summarise(stream: SummarisedStream, seq: number, subject: string, source: AnyEnvelope): Summary {
  const category = categoryOf(stream, source.type);
  const event: EventOf<typeof EventSummarised> = {
    id: derivedId('audit.summary', source.id),
    type: EventSummarised.type,
    v: EventSummarised.v,
    at: source.at,
    actor: { kind: source.actor.kind, id: source.actor.id },
    correlation_id: source.correlation_id,
    causation_id: source.id,
    data: {
      category,
      severity: severityOf(source.type),
      source: { stream, seq, subject, event_id: source.id, type: source.type, v: source.v },
    },
  };
  if (source.tenant !== undefined) event.tenant = source.tenant;
  return { subject: `audit.${source.tenant ?? '_platform'}.${category}`, event };
}
