import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { eventually } from './eventually.ts';

export interface BusOutageOptions {
  /** A connected device; its `reconnectPeriod` should be short, so that it is back soon after a disconnect. */
  readonly client: MqttClient;
  readonly topic: string;
  /** Messages `{ "values": { "n": n } }` for n < total, at QoS 1. */
  readonly total: number;
  /** The bus is stopped right after message `stopAfter` is sent… */
  readonly stopAfter: number;
  /** …and started again this long after, while the device goes on publishing (40 ms apart until `slowUntil`). */
  readonly outageMs: number;
  readonly slowUntil: number;
  readonly stopBus: () => Promise<void>;
  readonly startBus: () => Promise<void>;
  /** How long every message may take to be acknowledged once all are sent. */
  readonly ackTimeoutMs: number;
}

export interface BusOutageRun {
  /** When the device saw each message acknowledged (PUBACK), by n. */
  readonly ackedAt: ReadonlyMap<number, number>;
  readonly stoppedAt: number;
  readonly restartedAt: number;
}

/**
 * A device publishing through a bus outage, as the no-loss tests of the broker and of all of Vigil drive it: the
 * bus stops in the middle of the stream and comes back while messages keep coming, and the run ends once every
 * message is acknowledged. mqtt.js fails the publishes it had queued, unsent, when a connection closes: like a
 * device application, the run sends those again; a message it did send is kept and resent by mqtt.js itself.
 */
export async function publishAcrossBusOutage(options: BusOutageOptions): Promise<BusOutageRun> {
  const { client, topic, total } = options;
  const ackedAt = new Map<number, number>();
  const failed = new Set<number>();
  const send = (n: number) =>
    client.publish(topic, JSON.stringify({ values: { n } }), { qos: 1 }, (err) => {
      if (err) failed.add(n);
      else ackedAt.set(n, Date.now());
    });
  let stoppedAt = 0;
  let restartedAt = 0;
  let restarted: Promise<void> = Promise.resolve();
  for (let n = 0; n < total; n++) {
    send(n);
    if (n === options.stopAfter) {
      await options.stopBus();
      stoppedAt = Date.now();
      restarted = sleep(options.outageMs).then(async () => {
        await options.startBus();
        restartedAt = Date.now();
      });
    }
    await sleep(n > options.stopAfter && n < options.slowUntil ? 40 : 5);
  }
  await restarted;
  await eventually(
    'every message acknowledged',
    async () => {
      if (client.connected) for (const n of failed) if (!ackedAt.has(n) && failed.delete(n)) send(n);
      return ackedAt.size;
    },
    (n) => n === total,
    options.ackTimeoutMs,
  );
  return { ackedAt, stoppedAt, restartedAt };
}
