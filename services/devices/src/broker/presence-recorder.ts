import { setTimeout as sleep } from 'node:timers/promises';
import { append, createEvent, type Bus } from '@vigil/bus';
import { telemetrySubject } from '@vigil/devices-contract';
import type { Logger } from '@vigil/log';
import { DeviceCameOnline, DeviceWentOffline, type AnyEnvelope, type DataOf } from '@vigil/schemas';
import { backoffDelay } from '../backoff.ts';
import type { BrokerMetrics } from './broker-metrics.ts';
import type { DeviceIdentity } from './topic-policy.ts';

export type OfflineReason = DataOf<typeof DeviceWentOffline>['reason'];

/** One connection's presence events go out in order: its offline never lands before its online. */
interface SessionPresence {
  readonly device: DeviceIdentity;
  readonly session: string;
}

/**
 * Records devices coming online and going offline on DEVICE_TELEMETRY (`telemetry.<tenant>.<device>.presence`).
 * A connection must not wait for the bus, so these appends run behind it, retried with backoff while the bus is
 * away, for at most `retryForMs` (the event id makes every retry the same append, inside the stream's duplicate
 * window). What could not be recorded is counted and logged.
 */
export class PresenceRecorder {
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #metrics: BrokerMetrics;
  readonly #retryForMs: number;
  readonly #pending = new Set<Promise<void>>();
  /**
   * The last event on its way per device: a device's events are appended one after the other, across its sessions,
   * so a taken-over session's offline is stored before the next one's online even while the older ones wait for the
   * bus.
   */
  readonly #chains = new Map<string, Promise<void>>();
  #abandoned = false;

  constructor(bus: Bus, logger: Logger, metrics: BrokerMetrics, retryForMs = 90_000) {
    this.#bus = bus;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#retryForMs = retryForMs;
  }

  online(device: DeviceIdentity, session: string): SessionPresence {
    const presence: SessionPresence = { device, session };
    const event = createEvent(DeviceCameOnline, { device_id: device.deviceId, source: 'mqtt', session }, { actor: { kind: 'device', id: device.deviceId }, tenant: device.tenant });
    this.#enqueue(presence, event);
    return presence;
  }

  offline(presence: SessionPresence, reason: OfflineReason): void {
    const { device, session } = presence;
    const event = createEvent(
      DeviceWentOffline,
      { device_id: device.deviceId, source: 'mqtt', session, reason },
      { actor: { kind: 'device', id: device.deviceId }, tenant: device.tenant },
    );
    this.#enqueue(presence, event);
  }

  /** Waits for the events on their way, at most `timeoutMs`; then gives up on the rest (counted as failed). */
  async flush(timeoutMs: number): Promise<void> {
    const all = Promise.allSettled([...this.#pending]);
    const timer = sleep(timeoutMs, 'timeout' as const);
    if ((await Promise.race([all, timer])) === 'timeout') this.#abandoned = true;
    await all;
  }

  #enqueue(presence: SessionPresence, event: AnyEnvelope): void {
    const subject = telemetrySubject(presence.device.tenant, presence.device.deviceId, 'presence');
    const recorded = (this.#chains.get(subject) ?? Promise.resolve()).then(() => this.#appendWithRetry(subject, event));
    this.#chains.set(subject, recorded);
    this.#pending.add(recorded);
    void recorded.finally(() => {
      this.#pending.delete(recorded);
      if (this.#chains.get(subject) === recorded) this.#chains.delete(subject);
    });
  }

  async #appendWithRetry(subject: string, event: AnyEnvelope): Promise<void> {
    const giveUpAt = Date.now() + this.#retryForMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await append(this.#bus, subject, event);
        this.#metrics.presenceRecorded += 1;
        return;
      } catch (err) {
        if (this.#abandoned || Date.now() >= giveUpAt) {
          this.#metrics.presenceFailed += 1;
          this.#logger.error({ err, type: event.type, subject }, 'could not record a device presence event');
          return;
        }
        await sleep(backoffDelay(attempt, { minMs: 200, maxMs: 5000 }));
      }
    }
  }
}

export type { SessionPresence };
