// The devices of the MQTT bench, in a process of their own (as devices are): mqtt.js clients that publish QoS 1
// messages with a window in flight each, and report the rate and the publish → acknowledgement (or → delivery)
// latencies. Driven by the bench over the IPC channel.
import mqtt, { type MqttClient } from 'mqtt';

export interface LoadDevice {
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly topic: string;
}

export interface LoadOrder {
  readonly url: string;
  readonly devices: readonly LoadDevice[];
  /** Messages in all. */
  readonly count: number;
  /** Messages in flight per device. */
  readonly window: number;
  /** `puback`: a message is done when acknowledged. `delivery`: when a subscriber to `subscribe` receives it. */
  readonly doneOn: 'puback' | 'delivery';
  readonly subscribe?: string;
  /** Report when each message was sent (epoch ms, in sending order), to measure how long it took to reach a store. */
  readonly reportSendTimes?: boolean;
}

export interface LoadResult {
  readonly messages: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU this process used during the run, in cores (1 = one core busy all the time). */
  readonly cpuCores: number;
  readonly sentAtEpochMs?: number[];
}

function isLoadOrder(value: unknown): value is LoadOrder {
  return typeof value === 'object' && value !== null && 'url' in value && 'devices' in value && 'count' in value && 'window' in value && 'doneOn' in value;
}

function connect(url: string, options: mqtt.IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 60, ...options });
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function run(order: LoadOrder): Promise<LoadResult> {
  const clients = await Promise.all(
    order.devices.map((d) =>
      connect(order.url, { clientId: d.clientId, ...(d.username ? { username: d.username } : {}), ...(d.password ? { password: d.password } : {}) }),
    ),
  );
  const sentAt = new Float64Array(order.count);
  const latencies = new Float64Array(order.count);
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const complete = (i: number) => {
    latencies[done] = performance.now() - (sentAt[i] ?? 0);
    done += 1;
    if (done === order.count) finish();
  };
  let subscriber: MqttClient | undefined;
  if (order.doneOn === 'delivery') {
    subscriber = await connect(order.url, { clientId: 'bench-subscriber' });
    await subscriber.subscribeAsync(order.subscribe ?? '#', { qos: 1 });
    subscriber.on('message', (_topic, payload) => complete(Number(payload.toString('latin1', 15, payload.indexOf(0x7d)))));
  }
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, c) => {
      const topic = order.devices[c]?.topic ?? '';
      const one = async (): Promise<void> => {
        while (next < order.count) {
          const i = next++;
          sentAt[i] = performance.now();
          // `{"values":{"n":<i>}}`: the subscriber reads the index back from byte 15.
          await client.publishAsync(topic, `{"values":{"n":${i}}}`, { qos: 1 });
          if (order.doneOn === 'puback') complete(i);
        }
      };
      await Promise.all(Array.from({ length: order.window }, one));
    }),
  );
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = latencies.slice(0, done).sort();
  await Promise.all([...clients, ...(subscriber ? [subscriber] : [])].map((c) => c.endAsync()));
  return {
    messages: done,
    seconds,
    perSecond: done / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    cpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
    ...(order.reportSendTimes ? { sentAtEpochMs: Array.from(sentAt, (t) => performance.timeOrigin + t) } : {}),
  };
}

process.on('message', (message: unknown) => {
  if (!isLoadOrder(message)) return;
  run(message).then(
    (result) => process.send?.({ result }),
    (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) }),
  );
});
process.send?.({ ready: true });
