/** Counts by reason (or channel), created on first use so that only what happened is reported. */
export class Tally {
  readonly #counts = new Map<string, number>();

  add(key: string, by = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + by);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}

/**
 * What the broker has done since it started, for /health/detailed (and /metrics through the worker status). Only
 * counters: nothing here holds a device's data or credentials.
 */
export class BrokerMetrics {
  /** Connections accepted, by transport. */
  readonly connections = new Tally();
  /** CONNECTs refused, by reason (an authentication failure, or `server_unavailable` while the bus is down). */
  readonly connectionsRefused = new Tally();
  /** Connections ended, by the reason recorded in `device.presence.offline`. */
  readonly disconnects = new Tally();
  /** Publishes appended to the stream, by channel (`telemetry`, `heartbeat`, `talq`) and QoS. */
  readonly accepted = new Tally();
  /** Publishes refused, by reason (`topic_not_allowed`, `payload_too_large`, `malformed_payload`, `rate_limited`). */
  readonly refused = new Tally();
  /** Publishes held back to keep a device to its rate (not refused). */
  throttled = 0;
  /** QoS 1 messages a device sent again that matched one the broker held (stored once, acknowledged once). */
  redelivered = 0;
  /** Appends the bus did not confirm: the device got no PUBACK (QoS 1) or the message was lost (QoS 0). */
  readonly appendFailures = new Tally();
  readonly subscriptionsGranted = new Tally();
  readonly subscriptionsRefused = new Tally();
  commandsDelivered = 0;
  /** Commands for devices not connected to this broker (another replica may hold them). */
  commandsNotHere = 0;
  /** Refusals written to AUDIT, and those only counted because of the rate limit on reports. */
  auditReported = 0;
  auditSuppressed = 0;
  auditFailed = 0;
  presenceRecorded = 0;
  presenceFailed = 0;
}
