import { append, createEvent, type Bus } from '@vigil/bus';
import { securityLogger, type Logger } from '@vigil/log';
import { DeviceAccessDenied, DeviceAuthenticationFailed, type AnyEnvelope, type DataOf } from '@vigil/schemas';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { AuthenticationFailure, Transport } from './device-authentication.ts';
import { ReportBudget } from './pacer.ts';
import type { DeviceIdentity } from './topic-policy.ts';

export type DenialReason = DataOf<typeof DeviceAccessDenied>['reason'];

export interface AuditBudget {
  /** Reports per second for one claimed device id (or one device), and their burst. */
  readonly perKeyPerSecond: number;
  readonly perKeyBurst: number;
  /** Reports per second for the whole broker, and their burst. */
  readonly totalPerSecond: number;
  readonly totalBurst: number;
}

/** A report a minute per device (after a burst of 3), 20 a second in all. */
const defaultBudget: AuditBudget = { perKeyPerSecond: 1 / 60, perKeyBurst: 3, totalPerSecond: 20, totalBurst: 50 };

const brokerActor = { kind: 'service', id: 'mqtt-broker' } as const;
const severityOf: Readonly<Record<DenialReason, 'notice' | 'warning'>> = {
  topic_not_allowed: 'warning',
  payload_too_large: 'notice',
  malformed_payload: 'notice',
  rate_limited: 'notice',
};

/**
 * The broker's refusals on AUDIT (`audit.<tenant>.device_access`, `_platform` when the tenant is unknown), at a
 * capped rate: anyone can open a connection and send a bad password, so a flood of refusals must not become a flood
 * of audit records. Every refusal is counted; what the cap holds back is counted as suppressed. Nothing secret is
 * copied: not the password, not the payload.
 */
export class DeviceAccessAudit {
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #metrics: BrokerMetrics;
  readonly #budget: ReportBudget;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(bus: Bus, logger: Logger, metrics: BrokerMetrics, budget: AuditBudget = defaultBudget) {
    this.#bus = bus;
    this.#logger = securityLogger(logger, 'device_access');
    this.#metrics = metrics;
    this.#budget = new ReportBudget(budget);
  }

  authenticationFailed(failure: { readonly claimed: string; readonly reason: AuthenticationFailure; readonly transport: Transport; readonly tenant?: string }): void {
    if (!this.#budget.allow(`connect:${failure.claimed}`, Date.now())) {
      this.#metrics.auditSuppressed += 1;
      return;
    }
    this.#logger.warn({ claimed_device: failure.claimed, reason: failure.reason, transport: failure.transport }, 'device authentication failed');
    const event = createEvent(
      DeviceAuthenticationFailed,
      { category: 'device_access', severity: 'warning', claimed_device: failure.claimed, reason: failure.reason, transport: failure.transport },
      { actor: brokerActor, ...(failure.tenant ? { tenant: failure.tenant } : {}) },
    );
    this.#report(failure.tenant, event);
  }

  accessDenied(device: DeviceIdentity, action: 'publish' | 'subscribe', topic: string, reason: DenialReason): void {
    if (!this.#budget.allow(`${action}:${device.deviceId}:${reason}`, Date.now())) {
      this.#metrics.auditSuppressed += 1;
      return;
    }
    const shownTopic = topic.slice(0, 256);
    this.#logger.warn({ tenant: device.tenant, device_id: device.deviceId, action, topic: shownTopic, reason }, 'device access denied');
    const event = createEvent(
      DeviceAccessDenied,
      { category: 'device_access', severity: severityOf[reason], device_id: device.deviceId, action, topic: shownTopic, reason },
      { actor: { kind: 'device', id: device.deviceId }, tenant: device.tenant },
    );
    this.#report(device.tenant, event);
  }

  /** Waits for the reports on their way to AUDIT (at stop, and in tests). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  #report(tenant: string | undefined, event: AnyEnvelope): void {
    const sent = append(this.#bus, `audit.${tenant ?? '_platform'}.device_access`, event).then(
      () => {
        this.#metrics.auditReported += 1;
      },
      (err: unknown) => {
        this.#metrics.auditFailed += 1;
        this.#logger.error({ err, type: event.type }, 'could not record a device access refusal on AUDIT');
      },
    );
    this.#inFlight.add(sent);
    void sent.finally(() => this.#inFlight.delete(sent));
  }
}
