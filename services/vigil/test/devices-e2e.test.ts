// IoT devices end to end, every process as Vigil runs it: people manage devices over HTTP, real mqtt.js devices
// publish to the embedded broker, readings come back from Postgres through the edge.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { auditService } from '@vigil/audit';
import { freePort } from '@vigil/bus';
import { devicesService } from '@vigil/devices';
import { edgeService } from '@vigil/edge';
import { identityService } from '@vigil/identity';
import { createKekFile } from '@vigil/kme-contract';
import { initPki } from '@vigil/pki';
import { startProcess, type RunningProcess } from '@vigil/runtime';
import { telemetryService } from '@vigil/telemetry';
import { createTestDatabase, eventually, postgresServerUrl, startTestNats, testNamespace, type TestDatabase, type TestNats } from '@vigil/testkit';
import mqtt, { type MqttClient } from 'mqtt';
import postgres from 'postgres';

const password = 'correct horse battery staple 42';
let nats: TestNats;
let dir: string;
let db: TestDatabase | undefined;
let vigil: RunningProcess;
let httpUrl = '';
let mqttUrl = '';
const clients: MqttClient[] = [];
const namespace = testNamespace();

type Json = Record<string, unknown>;
const isJson = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

async function http(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${httpUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const parsed: unknown = await res.json();
  return { status: res.status, json: isJson(parsed) ? parsed : { value: parsed } };
}

const text = (json: Json, key: string): string => {
  const v = json[key];
  if (typeof v !== 'string') throw new Error(`${key} is not a string in ${JSON.stringify(json)}`);
  return v;
};
const list = (json: Json, key: string): unknown[] => {
  const v = json[key];
  if (!Array.isArray(v)) throw new Error(`${key} is not a list in ${JSON.stringify(json)}`);
  return v;
};

async function login(tenant: string, username: string): Promise<string> {
  const { status, json } = await http('POST', '/auth/login', undefined, { tenant, username, password });
  assert.equal(status, 200, JSON.stringify(json));
  return text(json, 'access_token');
}

function connectDevice(deviceId: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(mqttUrl, { clientId: deviceId, username: deviceId, password: secret, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(client);
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

before(async () => {
  nats = await startTestNats();
  dir = await mkdtemp(join(tmpdir(), 'vigil-devices-e2e-'));
  await writeFile(join(dir, 'admin-password'), password);
  if (await postgresServerUrl()) db = await createTestDatabase('postgres');
  const mqttPort = await freePort();
  // The edge always serves the ETSI listener too: it needs its TLS files and the KME KEK, even here.
  const pki = await initPki(join(dir, 'pki'), { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  createKekFile(join(dir, 'kek.json'));
  vigil = await startProcess('devices-e2e', [auditService, identityService, devicesService, telemetryService, edgeService], {
    embeddedNats: false,
    env: {
      NATS_URL: nats.url,
      VIGIL_NAMESPACE: namespace,
      VIGIL_DATA_DIR: join(dir, 'data'),
      ...(db?.url ? { DATABASE_URL: db.url } : {}),
      VIGIL_HTTP_PORT: '0',
      VIGIL_ETSI_PORT: '0',
      VIGIL_TLS_CERT_FILE: pki.serverCertificate,
      VIGIL_TLS_KEY_FILE: pki.serverKey,
      VIGIL_TLS_CA_FILE: pki.caCertificate,
      VIGIL_KME_KEK_FILE: join(dir, 'kek.json'),
      VIGIL_MQTT_PORT: String(mqttPort),
      VIGIL_BOOTSTRAP_ADMIN: 'admin',
      VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE: join(dir, 'admin-password'),
      VIGIL_AUTH_RATE_LIMIT: '10000',
      VIGIL_USER_RATE_LIMIT: '100000',
      LOG_LEVEL: process.env['E2E_LOG'] ?? 'silent',
    },
  });
  const endpoints = vigil.services.flatMap((s) => s.started.endpoints ?? []);
  httpUrl = endpoints.flatMap((e) => e.match(/^http:\/\/\S+/)?.[0] ?? [])[0] ?? '';
  mqttUrl = endpoints.flatMap((e) => e.match(/^mqtt:\/\/\S+/)?.[0] ?? [])[0] ?? '';
  assert.ok(httpUrl && mqttUrl, `endpoints: ${endpoints.join(' | ')}`);
});

after(async () => {
  for (const c of clients) c.end(true);
  await vigil?.stop();
  await db?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a city registers a lamp, the lamp reports, the city reads', () => {
  let city = '';
  let rival = '';
  let deviceId = '';
  let secret = '';
  let lamp: MqttClient;
  let range = '';

  test('tenants and their owners', async () => {
    const admin = await login('platform', 'admin');
    for (const tenant of ['city', 'rival']) {
      const created = await http('POST', '/tenants', admin, { tenant_id: tenant, name: tenant, owner: { username: 'owner', email: `owner@${tenant}.example`, password } });
      assert.equal(created.status, 201, JSON.stringify(created.json));
    }
    city = await login('city', 'owner');
    rival = await login('rival', 'owner');
  });

  test('register, issue a secret (shown once), read it back without the secret', async () => {
    const registered = await http('POST', '/devices', city, { name: 'Lamp 1', device_type: 'streetlight', serial: 'SN-0001', metadata: { street: 'Main' } });
    assert.equal(registered.status, 201, JSON.stringify(registered.json));
    deviceId = text(registered.json, 'device_id');
    assert.equal((await http('POST', '/devices', city, { name: 'Lamp 1 again', device_type: 'streetlight', serial: 'SN-0001' })).status, 409, 'serials are unique in a tenant');
    const issued = await http('POST', `/devices/${deviceId}/credentials`, city, { kind: 'secret' });
    assert.equal(issued.status, 201, JSON.stringify(issued.json));
    secret = text(issued.json, 'secret');
    const read = await http('GET', `/devices/${deviceId}?min_seq=${String(issued.json['seq'])}`, city);
    assert.equal(read.status, 200, JSON.stringify(read.json));
    assert.equal(read.json['serial'], 'SN-0001');
    assert.equal(list(read.json, 'credentials').length, 1);
    assert.ok(!JSON.stringify(read.json).includes(secret), 'the secret is never read back');
  });

  test('the lamp connects and publishes at QoS 1 and 0; every reading is queryable, and the series adds up', async () => {
    assert.equal((await connectDevice(deviceId, 'vds_wrong').catch((e: unknown) => e)) instanceof Error, true, 'a wrong secret is refused');
    lamp = await connectDevice(deviceId, secret);
    // Readings from a minute ago, on a 10-second boundary so that the series' buckets are known.
    const start = Math.floor(Date.now() / 10_000) * 10_000 - 60_000;
    range = `from=${new Date(start - 60_000).toISOString()}&to=${new Date(start + 60_000).toISOString()}`;
    for (let i = 0; i < 20; i++) {
      await lamp.publishAsync(`v1/city/${deviceId}/telemetry`, JSON.stringify({ ts: start + i * 1000, values: { lux: i, power: 100 + i } }), { qos: i % 2 === 0 ? 1 : 0 });
    }
    await lamp.publishAsync(`v1/city/${deviceId}/heartbeat`, JSON.stringify({ uptime: 42 }), { qos: 1 });
    const page = await eventually(
      'readings',
      () => http('GET', `/devices/${deviceId}/readings?${range}&metric=lux&limit=1000`, city),
      (r) => r.status === 200 && list(r.json, 'readings').length === 20,
      20_000,
    );
    const values = list(page.json, 'readings').map((r) => (isJson(r) ? r['value'] : undefined));
    assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => i), 'in time order, each once');
    const series = await http('GET', `/devices/${deviceId}/series?${range}&metric=lux&bucket_s=10`, city);
    assert.equal(series.status, 200, JSON.stringify(series.json));
    const buckets = list(series.json, 'buckets').filter(isJson);
    assert.deepEqual(
      buckets.map((b) => [b['count'], b['min'], b['max'], b['avg']]),
      [
        [10, 0, 9, 4.5],
        [10, 10, 19, 14.5],
      ],
    );
    const device = await eventually('presence', () => http('GET', `/devices/${deviceId}`, city), (r) => r.json['online'] === true && r.json['last_uptime_s'] === 42, 20_000);
    assert.equal(typeof device.json['last_seen_at'], 'string');
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    assert.match(metrics, /^vigil_mqtt_connected_devices\{instance="[^"]+"\} 1$/m);
    assert.match(metrics, /^vigil_mqtt_messages\{instance="[^"]+",outcome="accepted",kind="telemetry\.qos1"\} 10$/m);
  });

  test('another tenant sees nothing and changes nothing', async () => {
    for (const [method, path, body] of [
      ['GET', `/devices/${deviceId}`, undefined],
      ['GET', `/devices/${deviceId}/readings?${range}`, undefined],
      ['GET', `/devices/${deviceId}/series?${range}&metric=lux&bucket_s=60`, undefined],
      ['POST', `/devices/${deviceId}/credentials`, { kind: 'secret' }],
      ['POST', `/devices/${deviceId}/commands`, { name: 'dim' }],
      ['POST', `/devices/${deviceId}/decommission`, {}],
    ] as const) {
      const answer = await http(method, path, rival, body);
      assert.equal(answer.status, 404, `${method} ${path}: ${JSON.stringify(answer.json)}`);
    }
    assert.deepEqual(list((await http('GET', '/devices', rival)).json, 'devices'), []);
  });

  test('a command reaches the lamp on its commands topic', async () => {
    await lamp.subscribeAsync(`v1/city/${deviceId}/commands`, { qos: 1 });
    const received = new Promise<Json>((resolve) => lamp.once('message', (_topic, payload) => resolve(JSON.parse(payload.toString('utf8')))));
    const sent = await http('POST', `/devices/${deviceId}/commands`, city, { name: 'dim', parameters: { level: 30 } });
    assert.equal(sent.status, 202, JSON.stringify(sent.json));
    const command = await received;
    assert.equal(command['name'], 'dim');
    assert.deepEqual(command['parameters'], { level: 30 });
  });

  test('decommissioned, the lamp is disconnected and its secret refused; its serial is free again', async () => {
    const closed = new Promise<void>((resolve) => lamp.once('close', () => resolve()));
    const done = await http('POST', `/devices/${deviceId}/decommission`, city, { reason: 'replaced' });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    await closed;
    assert.ok((await connectDevice(deviceId, secret).catch((e: unknown) => e)) instanceof Error);
    const read = await eventually('decommissioned', () => http('GET', `/devices/${deviceId}`, city), (r) => r.json['status'] === 'decommissioned', 20_000);
    assert.deepEqual(list(read.json, 'credentials').filter((c) => isJson(c) && c['revoked_at'] === undefined), []);
    assert.equal((await http('POST', '/devices', city, { name: 'Lamp 1 (new)', device_type: 'streetlight', serial: 'SN-0001' })).status, 201);
  });

  test('after this workload every read model equals a rebuild from the streams; an altered row is reported', async (t) => {
    if (!db?.url) {
      t.skip('needs PostgreSQL: an embedded PGlite belongs to the running process alone');
      return;
    }
    const verified = await vigilCli('projections', 'verify');
    assert.equal(verified.code, 0, verified.out + verified.err);
    for (const name of ['audit', 'kme_key_requests', 'devices', 'telemetry']) assert.match(verified.out, new RegExp(`^${name}\\S* \\(up to seq \\d+\\): equal to a rebuild`, 'm'));
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`update devices set name = 'renamed behind the stream''s back' where device_id = ${deviceId}`;
    } finally {
      await sql.end();
    }
    const differs = await vigilCli('projections', 'verify', 'devices');
    assert.equal(differs.code, 1);
    assert.match(differs.out, /devices \(up to seq \d+\): DIFFERS from a rebuild/);
  });
});

/** The operator's command line, against the running Vigil's NATS and database. */
function vigilCli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const root = join(import.meta.dirname, '..', '..', '..');
  const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NATS_URL: nats.url, VIGIL_NAMESPACE: namespace, DATABASE_URL: db?.url ?? '', LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services', 'vigil', 'src', 'cli.ts'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}
