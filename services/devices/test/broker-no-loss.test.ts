// No loss, no double: the bus is stopped in the middle of a stream of QoS 1 publishes from an mqtt.js device. While
// it is down nothing is acknowledged; once it is back mqtt.js resends what was not, and every message the device saw
// acknowledged is on DEVICE_TELEMETRY exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectBus, isEventOf, startLocalNatsServer, type Bus, type LocalNatsServer } from '@vigil/bus';
import { TelemetryReported } from '@vigil/schemas';
import { eventually, publishAcrossBusOutage, testLogger, testNamespace } from '@vigil/testkit';
import mqtt from 'mqtt';
import type { DeviceBroker } from '../src/broker/device-broker.ts';
import { channelEvents, deviceTopic, registerDevice, startBroker, startRegistry, type Registry } from './broker-fixture.ts';

let nats: LocalNatsServer;
let bus: Bus;
let registry: Registry;
let broker: DeviceBroker;

before(async () => {
  // A server of this file's own (not the shared test one): it is stopped and started again on the same port and store.
  nats = await startLocalNatsServer();
  bus = await connectBus({ servers: [nats.url], name: 'no-loss', logger: testLogger('bus'), namespace: testNamespace() });
  registry = await startRegistry(bus);
  // A short outage hold, so that the run goes through the whole path: messages wait for the bus, the connection is
  // closed unacknowledged, mqtt.js reconnects and resends, and the resends are stored once.
  broker = await startBroker(bus, registry, { busOutageHoldMs: 3000 });
});
after(async () => {
  await broker.stop();
  await registry.stop();
  await bus.nc.close();
  await nats.stop();
});

const total = 400;
const outageMs = 6500;

test('QoS 1 across a bus outage: no PUBACK while it is down, then every acknowledged message stored exactly once', { timeout: 120_000 }, async () => {
  const device = await registerDevice(registry);
  const client = mqtt.connect(broker.url('tcp'), {
    clientId: device.deviceId,
    username: device.deviceId,
    password: device.secret,
    protocolVersion: 4,
    reconnectPeriod: 250,
    connectTimeout: 5000,
  });
  const refusals: number[] = [];
  client.on('error', (err) => {
    if ('code' in err && typeof err.code === 'number') refusals.push(err.code);
  });
  let closes = 0;
  client.on('close', () => closes++);
  await new Promise((resolve) => client.once('connect', resolve));

  const { storeDir } = nats;
  const port = Number(new URL(nats.url).port);
  const { ackedAt, stoppedAt, restartedAt } = await publishAcrossBusOutage({
    client,
    topic: deviceTopic(device, 'telemetry'),
    total,
    stopAfter: 100,
    slowUntil: 250,
    outageMs,
    // Restarted on the same port and store while the device keeps publishing.
    stopBus: () => nats.stop({ keepStore: true }),
    startBus: async () => {
      nats = await startLocalNatsServer({ storeDir, port });
    },
    ackTimeoutMs: 60_000,
  });
  client.end(true);

  assert.ok(restartedAt > stoppedAt, 'the bus came back during the run');
  // Nothing is acknowledged while the bus is away (what it had stored before it went is acknowledged at once).
  const duringOutage = [...ackedAt.values()].filter((at) => at > stoppedAt + 1500 && at < restartedAt);
  assert.deepEqual(duringOutage, [], 'no PUBACK while the bus was down');
  assert.ok(closes >= 1, 'the device was disconnected so that it would send again');
  assert.deepEqual(refusals, [], 'and let in again while the bus was away (mqtt.js gives up after a refused CONNECT)');

  const stored = await eventually(
    'every message on the stream',
    async () => (await channelEvents(bus, device, 'reading')).map((e) => e.event).filter((e) => isEventOf([TelemetryReported], e)),
    (events) => new Set(events.map((e) => e.data.values['n'])).size === total,
    30_000,
  );
  const times = new Map<number, number>();
  for (const e of stored) {
    const n = e.data.values['n'] ?? -1;
    times.set(n, (times.get(n) ?? 0) + 1);
  }
  const twice = [...times].filter(([, count]) => count > 1).map(([n]) => n);
  assert.deepEqual(twice, [], 'no message stored twice');
  assert.equal(stored.length, total);

  const details = await broker.details();
  const messages = details['messages'];
  testLogger().info({ messages, acked: ackedAt.size, closes }, 'no-loss run');
  const redelivered = typeof messages === 'object' && messages !== null && 'redelivered' in messages ? messages.redelivered : 0;
  assert.ok(typeof redelivered === 'number' && redelivered > 0, `mqtt.js resent what it had not been acknowledged: ${JSON.stringify(messages)}`);
});
