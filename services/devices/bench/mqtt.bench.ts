// QoS 1 messages per second from many mqtt.js devices through Vigil's broker into JetStream (each PUBACK sent only
// after the stream stored the event), with publish → PUBACK latency, against aedes alone in the same run (publish →
// subscriber, no bus, no checks). The devices run in a process of their own. After the Vigil run the stream is
// counted: every acknowledged message must be on it (zero loss). BENCH_EVENTS, BENCH_DEVICES and BENCH_WINDOW size it.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { createServer } from 'node:net';
import { cpuSecondsOf, emitBenchLine, natsServerPid, startTestBus, testLogger } from '@vigil/testkit';
import type { LoadDevice, LoadOrder, LoadResult } from './mqtt-load.ts';
import { DeviceBroker } from '../src/broker/device-broker.ts';
import { DeviceDirectory } from '../src/registry/device-directory.ts';
import { RegistryWorker } from '../src/registry/registry-worker.ts';

const count = Number(process.env['BENCH_EVENTS'] ?? 50_000);
const deviceCount = Number(process.env['BENCH_DEVICES'] ?? 50);
const window = Number(process.env['BENCH_WINDOW'] ?? 32);
const caller = { actor: { kind: 'user', id: 'bench' }, tenant: 'bench' } as const;

function isResult(value: unknown): value is { result: LoadResult } {
  return typeof value === 'object' && value !== null && 'result' in value;
}

async function startLoad(): Promise<ChildProcess> {
  const child = fork(join(import.meta.dirname, 'mqtt-load.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the load process exited with ${code}`)));
  });
  return child;
}

interface Measured extends LoadResult {
  readonly brokerCores: number;
  readonly natsCores: number | undefined;
}

/** Runs one load and the CPU the broker process (this one) and nats-server used meanwhile. */
async function load(child: ChildProcess, order: LoadOrder, natsPid?: number): Promise<Measured> {
  const cpuBefore = process.cpuUsage();
  const natsBefore = cpuSecondsOf(natsPid);
  const result = await new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (m: unknown) => (isResult(m) ? resolve(m.result) : reject(new Error(JSON.stringify(m)))));
    child.send(order);
  });
  const cpu = process.cpuUsage(cpuBefore);
  const natsAfter = cpuSecondsOf(natsPid);
  return {
    ...result,
    brokerCores: (cpu.user + cpu.system) / 1e6 / result.seconds,
    natsCores: natsBefore === undefined || natsAfter === undefined ? undefined : (natsAfter - natsBefore) / result.seconds,
  };
}

const round2 = (n: number | undefined) => (n === undefined ? null : Math.round(n * 100) / 100);

const t = await startTestBus();
const child = await startLoad();
try {
  // Baseline: aedes alone, no authentication, publish → one subscriber.
  const bare = await Aedes.createBroker();
  const bareServer = createServer(bare.handle);
  await new Promise<void>((resolve) => bareServer.listen(0, '127.0.0.1', resolve));
  const bareAddress = bareServer.address();
  const bareUrl = `mqtt://127.0.0.1:${typeof bareAddress === 'object' && bareAddress ? bareAddress.port : 0}`;
  const bareDevices: LoadDevice[] = Array.from({ length: deviceCount }, (_, i) => ({ clientId: `bench-${i}`, topic: `bench/${i}/telemetry` }));

  // Vigil: registered devices, each logging in with its secret, each message appended to DEVICE_TELEMETRY first.
  const logger = testLogger('bench');
  const registry = new RegistryWorker({ bus: t.bus, logger });
  const directory = new DeviceDirectory(t.bus);
  await directory.start();
  const devices: LoadDevice[] = [];
  for (let i = 0; i < deviceCount; i++) {
    const { device_id } = await registry.register(caller, { name: `bench ${i}`, device_type: 'sensor', serial: `BENCH-${i}` });
    const issued = await registry.issueCredential(caller, { device_id, credential: { kind: 'secret' } });
    await directory.reach(issued.seq);
    devices.push({ clientId: device_id, username: device_id, password: issued.secret ?? '', topic: `v1/bench/${device_id}/telemetry` });
  }
  const broker = new DeviceBroker({
    bus: t.bus,
    directory,
    logger,
    listen: { host: '127.0.0.1', tcpPort: 0 },
    heartbeatSeconds: 600,
    maxMessagesPerSecond: 0,
    maxPayloadBytes: 8192,
  });
  await broker.start();
  const natsPid = natsServerPid(t.nats.url);

  // Throughput with a window of messages in flight per device, then latency with one at a time.
  const runs: { name: string; window: number; messages: number; baseline: Measured; vigil: Measured }[] = [];
  for (const [name, w, messages] of [
    ['devices.mqtt_qos1', window, count],
    ['devices.mqtt_qos1_one_in_flight', 1, Math.max(deviceCount, Math.round(count / 5))],
  ] as const) {
    const baseline = await load(child, { url: bareUrl, devices: bareDevices, count: messages, window: w, doneOn: 'delivery', subscribe: 'bench/#' });
    const vigil = await load(child, { url: broker.url('tcp'), devices, count: messages, window: w, doneOn: 'puback' }, natsPid);
    runs.push({ name, window: w, messages, baseline, vigil });
  }
  await broker.stop();
  await directory.stop();
  await new Promise<void>((resolve) => bare.close(() => resolve()));
  await new Promise<void>((resolve) => bareServer.close(() => resolve()));

  // Zero loss: every acknowledged message is on the stream.
  const info = await t.bus.jsm.streams.info(t.bus.names.stream('DEVICE_TELEMETRY'), { subjects_filter: t.bus.names.subject('telemetry.bench.*.reading') });
  const stored = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  const acknowledged = runs.reduce((sum, r) => sum + r.vigil.messages, 0);
  for (const { name, window: w, messages, baseline, vigil } of runs) {
    emitBenchLine({
      bench: name,
      unit: 'msgs/s',
      value: Math.round(vigil.perSecond),
      baseline: 'aedes.publish_to_subscriber',
      baseline_value: Math.round(baseline.perSecond),
      ratio: +(vigil.perSecond / baseline.perSecond).toFixed(3),
      p50_ms: +vigil.p50Ms.toFixed(2),
      p99_ms: +vigil.p99Ms.toFixed(2),
      baseline_p50_ms: +baseline.p50Ms.toFixed(2),
      baseline_p99_ms: +baseline.p99Ms.toFixed(2),
      messages,
      devices: deviceCount,
      window: w,
      cpu_cores: { broker: round2(vigil.brokerCores), devices: round2(vigil.cpuCores), nats: round2(vigil.natsCores) },
      baseline_cpu_cores: { broker: round2(baseline.brokerCores), devices: round2(baseline.cpuCores) },
      acknowledged_all_runs: acknowledged,
      stored_all_runs: stored,
      lost: acknowledged - stored,
      server: t.bus.serverVersion,
    });
  }
} finally {
  child.kill();
  await t.close();
}
