// No loss, no double, all the way to Postgres: Vigil's device services and telemetry projection run as `pnpm start`
// runs them; NATS stops in the middle of a stream of QoS 1 publishes from an mqtt.js device and comes back. Nothing
// is acknowledged while it is away, and afterwards every message the device saw acknowledged is one row in
// `telemetry_readings`: counted, not sampled.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, request, startLocalNatsServer, type Caller, type LocalNatsServer } from '@vigil/bus';
import { devicesService } from '@vigil/devices';
import { deviceSubjects, parseCredentialIssued, parseDeviceRegistered } from '@vigil/devices-contract';
import { startProcess, type RunningProcess } from '@vigil/runtime';
import { rowsOf } from '@vigil/store';
import { telemetryService } from '@vigil/telemetry';
import { createTestDatabase, eventually, postgresServerUrl, publishAcrossBusOutage, testNamespace, type TestDatabase } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import mqtt from 'mqtt';

let nats: LocalNatsServer;
let dir: string;
let db: TestDatabase | undefined;
let vigil: RunningProcess;
let mqttUrl = '';
const owner: Caller = { actor: { kind: 'user', id: 'owner' }, tenant: 'city' };

before(async () => {
  // A server of this file's own: it is stopped and started again on the same port and store.
  nats = await startLocalNatsServer();
  dir = await mkdtemp(join(tmpdir(), 'vigil-devices-no-loss-'));
  if (await postgresServerUrl()) db = await createTestDatabase('postgres');
  vigil = await startProcess('no-loss', [devicesService, telemetryService], {
    embeddedNats: false,
    env: {
      NATS_URL: nats.url,
      VIGIL_NAMESPACE: testNamespace(),
      VIGIL_DATA_DIR: join(dir, 'data'),
      ...(db?.url ? { DATABASE_URL: db.url } : {}),
      VIGIL_MQTT_PORT: String(await freePort()),
      VIGIL_DEVICE_MAX_MESSAGES_PER_SECOND: '0',
      LOG_LEVEL: 'silent',
    },
  });
  mqttUrl = vigil.services.flatMap((s) => s.started.endpoints ?? []).flatMap((e) => e.match(/^mqtt:\/\/\S+/)?.[0] ?? [])[0] ?? '';
  assert.ok(mqttUrl);
});

after(async () => {
  await vigil?.stop();
  await db?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

const total = 300;
const outageMs = 5000;

test('QoS 1 across a bus outage: no PUBACK while NATS is down, then every acknowledged message is one row in Postgres', { timeout: 180_000 }, async () => {
  const timeoutMs = 10_000;
  const { device_id: deviceId } = await request(vigil.bus, deviceSubjects.register, { name: 'Lamp', device_type: 'streetlight', serial: 'SN-NOLOSS' }, { timeoutMs, parse: parseDeviceRegistered, caller: owner });
  const { secret = '' } = await request(vigil.bus, deviceSubjects.issueCredential, { device_id: deviceId, credential: { kind: 'secret' } }, { timeoutMs, parse: parseCredentialIssued, caller: owner });
  // The broker's directory learns the credential from the stream: connect once it does.
  const client = await eventually(
    'the device logs in',
    () =>
      new Promise<mqtt.MqttClient | undefined>((resolve) => {
        const c = mqtt.connect(mqttUrl, { clientId: deviceId, username: deviceId, password: secret, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
        c.once('connect', () => resolve(c));
        c.once('error', () => {
          c.end(true);
          resolve(undefined);
        });
      }),
    (c) => c !== undefined,
    10_000,
  );
  if (!client) throw new Error('no client');
  client.options.reconnectPeriod = 250;

  const { storeDir } = nats;
  const port = Number(new URL(nats.url).port);
  const { ackedAt, stoppedAt, restartedAt } = await publishAcrossBusOutage({
    client,
    topic: `v1/city/${deviceId}/telemetry`,
    total,
    stopAfter: 80,
    slowUntil: 200,
    outageMs,
    stopBus: () => nats.stop({ keepStore: true }),
    startBus: async () => {
      nats = await startLocalNatsServer({ storeDir, port });
    },
    ackTimeoutMs: 90_000,
  });
  client.end(true);

  assert.ok(restartedAt > stoppedAt, 'NATS came back during the run');
  const duringOutage = [...ackedAt.values()].filter((at) => at > stoppedAt + 1500 && at < restartedAt);
  assert.deepEqual(duringOutage, [], 'no PUBACK while NATS was down');

  const database = vigil.database;
  assert.ok(database);
  const counted = await eventually(
    'every acknowledged message in Postgres',
    async () => {
      const [first] = rowsOf(
        await database.db.execute(sql`select count(*)::int as rows, count(distinct value)::int as distinct from telemetry_readings where device_id = ${deviceId} and metric = 'n'`),
      );
      return { rows: Number(first?.['rows'] ?? 0), distinct: Number(first?.['distinct'] ?? 0) };
    },
    (c) => c.distinct === total,
    60_000,
  );
  assert.deepEqual(counted, { rows: total, distinct: total }, 'each acknowledged message exactly once');
});
