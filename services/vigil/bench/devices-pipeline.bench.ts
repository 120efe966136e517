// QoS 1 telemetry from many mqtt.js devices all the way into Postgres: broker (PUBACK after the stream stored it) →
// DEVICE_TELEMETRY → the telemetry projection → `telemetry_readings`, the device services and the telemetry service
// each in a process of its own as a deployment runs them (on PGlite, which one process owns, both in this one). Reports messages/s
// until the last row is committed and the publish → row latency (p50/p99), against aedes alone (publish →
// subscriber, no bus, no store) in the same run, and counts the rows: every acknowledged message exactly once.
// BENCH_EVENTS, BENCH_DEVICES and BENCH_WINDOW size it; the devices run in a process of their own.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, request, type Caller } from '@vigil/bus';
import { devicesService } from '@vigil/devices';
import { deviceSubjects, parseCredentialIssued, parseDeviceRegistered } from '@vigil/devices-contract';
import { startProcess } from '@vigil/runtime';
import { openDatabase, rowsOf, type Database } from '@vigil/store';
import { telemetryService } from '@vigil/telemetry';
import { availableDatabaseKinds, createTestDatabase, emitBenchLine, startTestNats, testLogger, testNamespace } from '@vigil/testkit';
import { Aedes } from 'aedes';
import { sql } from 'drizzle-orm';

const count = Number(process.env['BENCH_EVENTS'] ?? 40_000);
const deviceCount = Number(process.env['BENCH_DEVICES'] ?? 50);
const window = Number(process.env['BENCH_WINDOW'] ?? 32);
const owner: Caller = { actor: { kind: 'user', id: 'bench' }, tenant: 'bench' };

/** The load generator of the broker bench: mqtt.js devices in a child process (services/devices/bench). */
const loadScript = join(import.meta.dirname, '..', '..', 'devices', 'bench', 'mqtt-load.ts');

interface LoadDevice {
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly topic: string;
}
interface LoadResult {
  readonly messages: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sentAtEpochMs?: number[];
}

function isLoadResult(value: unknown): value is { result: LoadResult } {
  return typeof value === 'object' && value !== null && 'result' in value && typeof value.result === 'object' && value.result !== null && 'perSecond' in value.result;
}

async function startLoad(): Promise<ChildProcess> {
  const child = fork(loadScript, { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the load process exited with ${code}`)));
  });
  return child;
}

function load(child: ChildProcess, order: Record<string, unknown>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    child.once('message', (m: unknown) => (isLoadResult(m) ? resolve(m.result) : reject(new Error(JSON.stringify(m)))));
    child.send(order);
  });
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function storedRows(database: Database): Promise<number> {
  const [row] = rowsOf(await database.db.execute(sql`select count(*)::int as n from telemetry_readings where tenant = 'bench'`));
  return Number(row?.['n'] ?? 0);
}

const [kind] = await availableDatabaseKinds();
const nats = await startTestNats();
const dir = await mkdtemp(join(tmpdir(), 'vigil-devices-bench-'));
const db = kind === 'postgres' ? await createTestDatabase('postgres') : undefined;
const child = await startLoad();
const env = {
  NATS_URL: nats.url,
  VIGIL_NAMESPACE: testNamespace(),
  VIGIL_DATA_DIR: join(dir, 'data'),
  ...(db?.url ? { DATABASE_URL: db.url } : {}),
  VIGIL_MQTT_PORT: String(await freePort()),
  VIGIL_DEVICE_MAX_MESSAGES_PER_SECOND: '0',
  VIGIL_DEVICE_HEARTBEAT_SECONDS: '600',
  LOG_LEVEL: 'warn',
};
const root = join(import.meta.dirname, '..', '..', '..');
const telemetryProcess = db?.url
  ? spawn(process.execPath, ['--import', 'tsx', join(root, 'services', 'telemetry', 'src', 'main.ts')], { cwd: root, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  : undefined;
const vigil = await startProcess('devices-bench', telemetryProcess ? [devicesService] : [devicesService, telemetryService], { embeddedNats: false, env });
const database = vigil.database ?? (db?.url ? await openDatabase({ url: db.url, logger: testLogger('bench'), maxConnections: 2 }) : undefined);
try {
  if (!database) throw new Error('the telemetry service runs with a database');
  // The telemetry process is ready once its partitions exist.
  for (let i = 0; i < 200 && (await storedRows(database).then(() => false, () => true)); i++) await new Promise((r) => setTimeout(r, 100));
  const mqttUrl = vigil.services.flatMap((s) => s.started.endpoints ?? []).flatMap((e) => e.match(/^mqtt:\/\/\S+/)?.[0] ?? [])[0] ?? '';

  // Baseline: aedes alone, no authentication, publish → one subscriber.
  const bare = await Aedes.createBroker();
  const bareServer = createServer(bare.handle);
  await new Promise<void>((resolve) => bareServer.listen(0, '127.0.0.1', resolve));
  const address = bareServer.address();
  const bareUrl = `mqtt://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const bareDevices: LoadDevice[] = Array.from({ length: deviceCount }, (_, i) => ({ clientId: `bench-${i}`, topic: `bench/${i}/telemetry` }));
  const baseline = await load(child, { url: bareUrl, devices: bareDevices, count, window, doneOn: 'delivery', subscribe: 'bench/#' });
  await new Promise<void>((resolve) => bare.close(() => resolve()));
  await new Promise<void>((resolve) => bareServer.close(() => resolve()));

  const devices: LoadDevice[] = [];
  for (let i = 0; i < deviceCount; i++) {
    const { device_id } = await request(vigil.bus, deviceSubjects.register, { name: `bench ${i}`, device_type: 'sensor', serial: `BENCH-${i}` }, { timeoutMs: 10_000, parse: parseDeviceRegistered, caller: owner });
    const issued = await request(vigil.bus, deviceSubjects.issueCredential, { device_id, credential: { kind: 'secret' } }, { timeoutMs: 10_000, parse: parseCredentialIssued, caller: owner });
    devices.push({ clientId: device_id, username: device_id, password: issued.secret ?? '', topic: `v1/bench/${device_id}/telemetry` });
  }
  // The broker's directory learns the last credential from the stream a moment after it is issued.
  await new Promise((r) => setTimeout(r, 500));

  // While the devices publish, the row count is sampled: the k-th row stored, against the k-th message sent.
  const samples: { at: number; rows: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push({ at: Date.now(), rows: await storedRows(database) });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const result = await load(child, { url: mqttUrl, devices, count, window, doneOn: 'puback', reportSendTimes: true });
  const deadline = Date.now() + 120_000;
  while ((samples.at(-1)?.rows ?? 0) < result.messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  sampling = false;
  await sampler;
  const rows = await storedRows(database);
  if (process.env["BENCH_TRACE"]) for (const x of samples.filter((_, i) => i % 10 === 0)) console.error(x.at - (result.sentAtEpochMs?.[0] ?? 0), x.rows);

  const sent = [...(result.sentAtEpochMs ?? [])].sort((a, b) => a - b);
  const lags: number[] = [];
  let s = 0;
  for (let k = 0; k < sent.length; k++) {
    while (s < samples.length && (samples[s]?.rows ?? 0) < k + 1) s++;
    const storedAt = samples[s]?.at;
    if (storedAt !== undefined) lags.push(storedAt - (sent[k] ?? storedAt));
  }
  lags.sort((a, b) => a - b);
  const firstSent = sent[0] ?? 0;
  const lastStored = samples.find((x) => x.rows >= result.messages)?.at ?? Date.now();
  const perSecond = result.messages / ((lastStored - firstSent) / 1000);
  emitBenchLine({
    bench: 'devices.mqtt_qos1_to_postgres',
    unit: 'msgs/s',
    value: Math.round(perSecond),
    baseline: 'aedes.publish_to_subscriber',
    baseline_value: Math.round(baseline.perSecond),
    ratio: +(perSecond / baseline.perSecond).toFixed(3),
    lag_p50_ms: percentile(lags, 50),
    lag_p99_ms: percentile(lags, 99),
    puback_per_second: Math.round(result.perSecond),
    puback_p50_ms: +result.p50Ms.toFixed(2),
    puback_p99_ms: +result.p99Ms.toFixed(2),
    baseline_p50_ms: +baseline.p50Ms.toFixed(2),
    baseline_p99_ms: +baseline.p99Ms.toFixed(2),
    messages: count,
    devices: deviceCount,
    window,
    database: database.kind,
    acknowledged: result.messages,
    rows,
    lost: result.messages - rows,
    sample_every_ms: 20,
    telemetry_process: telemetryProcess ? 'separate' : 'same as the broker',
  });
} finally {
  child.kill();
  telemetryProcess?.kill('SIGTERM');
  if (database !== vigil.database) await database?.close();
  await vigil.stop();
  await db?.close();
  await nats.stop();
  await rm(dir, { recursive: true, force: true });
}
