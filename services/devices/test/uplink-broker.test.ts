// The uplink against a real upstream broker on loopback (Mosquitto, restartable): what an upstream publisher sends
// lands on DEVICE_TELEMETRY, refused messages are acknowledged and counted, and a broker restart loses nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { followEvents, isEventOf, type Caller, type Following } from '@vigil/bus';
import { HeartbeatReceived, TelemetryReported, type AnyEnvelope } from '@vigil/schemas';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { connectAsync, type MqttClient } from 'mqtt';
import { DeviceDirectory } from '../src/registry/device-directory.ts';
import { RegistryWorker } from '../src/registry/registry-worker.ts';
import { Uplink } from '../src/uplink/uplink.ts';
import { startUpstreamBroker, uplinkSettingsFor, waitFor, type UpstreamBroker } from './uplink-support.ts';

let t: TestBus;
let worker: RegistryWorker;
let directory: DeviceDirectory;
let broker: UpstreamBroker;
let publisher: MqttClient;
let uplink: Uplink;
let following: Following;
const events: AnyEnvelope[] = [];
const acme: Caller & { tenant: string } = { actor: { kind: 'user', id: 'alice' }, tenant: 'acme' };
let lampId = '';
let meterId = '';

const readings = () => events.filter((e) => isEventOf([TelemetryReported], e)).flatMap((e) => (isEventOf([TelemetryReported], e) ? [e.data] : []));
const seqsOf = (deviceId: string) => readings().flatMap((d) => (d.device_id === deviceId && d.values['seq'] !== undefined ? [d.values['seq']] : []));

async function publish(topic: string, payload: string): Promise<void> {
  await publisher.publishAsync(topic, payload, { qos: 1 });
}

before(async () => {
  t = await startTestBus();
  worker = new RegistryWorker({ bus: t.bus, logger: testLogger('registry') });
  worker.start();
  directory = new DeviceDirectory(t.bus);
  await directory.start();
  lampId = (await worker.register(acme, { name: 'Lamp 1', device_type: 'streetlight', serial: 'SN-LAMP-1' })).device_id;
  const meter = await worker.register(acme, { name: 'Meter 1', device_type: 'meter', serial: 'SN-METER-1' });
  meterId = meter.device_id;
  await directory.reach(meter.seq);
  following = await followEvents(t.bus, 'telemetry.acme.>', ({ event }) => events.push(event));
  broker = await startUpstreamBroker();
  // The upstream side: a registry publishing its devices' messages with QoS 1 and a session of its own.
  publisher = await connectAsync(broker.url, { protocolVersion: broker.protocolVersion, clientId: 'upstream-registry', clean: false, reconnectPeriod: 200 });
  uplink = new Uplink({ settings: uplinkSettingsFor(broker, 'acme'), bus: t.bus, logger: testLogger('uplink'), directory });
  uplink.start();
  await waitFor('the uplink to subscribe', () => uplink.status().subscribed);
});

after(async () => {
  await uplink.stop();
  await publisher.endAsync(true);
  await broker.close();
  await following.stop();
  await directory.stop();
  await worker.stop();
  await t.close();
});

test(`messages from the upstream registry land as events of the device with that serial (${process.env['UPLINK_TEST_BROKER'] ?? 'mosquitto'})`, async () => {
  // Refused messages first: they are handled in order, so once the last good message has landed they were all seen.
  await publish('registries/42/devices/SN-NOBODY/events', JSON.stringify({ values: { lampLevel: 1 } }));
  await publish('registries/42/devices/SN-LAMP-1/events', 'not json');
  await publish('registries/42/devices/SN-LAMP-1/heartbeat', JSON.stringify({ uptime: 'long' }));
  await publish('registries/42/devices/SN-LAMP-1/events', JSON.stringify({ ts: '2026-01-02T03:04:05.000Z', values: { lampLevel: 80 } }));
  await publish('registries/42/devices/SN-METER-1/states/power', JSON.stringify({ activePower: 12.5 }));
  await publish('registries/42/devices/SN-LAMP-1/heartbeat', JSON.stringify({ uptime: 120 }));
  await waitFor('the heartbeat', () => events.some((e) => isEventOf([HeartbeatReceived], e)));

  const lamp = readings().find((d) => d.device_id === lampId);
  assert.deepEqual(lamp, { device_id: lampId, measured_at: '2026-01-02T03:04:05.000Z', values: { lampLevel: 80 }, source: 'uplink' });
  const meter = readings().find((d) => d.device_id === meterId);
  assert.deepEqual(meter?.values, { activePower: 12.5 }, 'a Fundamentum state with a subtype is telemetry too');
  const beat = events.find((e) => isEventOf([HeartbeatReceived], e));
  assert.ok(beat && isEventOf([HeartbeatReceived], beat));
  assert.deepEqual(beat.data, { device_id: lampId, uptime_s: 120, source: 'uplink' });
  assert.equal(beat.tenant, 'acme');
  assert.deepEqual(beat.actor, { kind: 'device', id: lampId });

  const status = uplink.status();
  assert.deepEqual(status.messages.refused, { unmapped_topic: 0, unknown_serial: 1, malformed: 2 });
  assert.equal(status.messages.acknowledged, 3);
  assert.equal(status.messages.received, 6);
  assert.ok(status.connected && status.last_message_at !== undefined);
});

test('refused messages were acknowledged: a new session on the same client id does not get them again', async () => {
  await uplink.stop();
  uplink = new Uplink({ settings: uplinkSettingsFor(broker, 'acme'), bus: t.bus, logger: testLogger('uplink'), directory });
  uplink.start();
  await waitFor('the uplink to subscribe again', () => uplink.status().subscribed);
  await publish('registries/42/devices/SN-LAMP-1/events', JSON.stringify({ values: { marker: 1 } }));
  await waitFor('the marker', () => readings().some((d) => d.values['marker'] === 1));
  assert.deepEqual(uplink.status().messages.refused, { unmapped_topic: 0, unknown_serial: 0, malformed: 0 });
  assert.equal(uplink.status().messages.received, 1, 'nothing was redelivered before the marker');
});

test('a broker restart: the uplink reconnects with growing delays and nothing is lost or doubled', async () => {
  const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  for (const seq of seqs(1, 5)) await publish('registries/42/devices/SN-METER-1/events', JSON.stringify({ values: { seq } }));
  await waitFor('the first five', () => seqsOf(meterId).length === 5);

  await broker.stop();
  await waitFor('a few failed reconnects', () => uplink.status().reconnect_attempts >= 4);
  // Published while the broker is down: the publisher's client keeps them until it is back.
  const later = Promise.all(seqs(6, 10).map((seq) => publish('registries/42/devices/SN-METER-1/events', JSON.stringify({ values: { seq } }))));
  const whileDown = uplink.status();
  assert.equal(whileDown.connected, false);
  await broker.start();
  await later;
  await waitFor('all ten', () => seqsOf(meterId).length >= 10);
  await waitFor('the uplink to be back', () => uplink.status().connected && uplink.status().subscribed);

  assert.deepEqual([...seqsOf(meterId)].sort((a, b) => a - b), seqs(1, 10), 'each message once');
  // Equal jitter: each delay is at least half its ceiling, which doubles, so the delays never shrink below the cap.
  const delays = whileDown.reconnect_delays_ms.slice(-whileDown.reconnect_attempts);
  assert.ok(delays.length >= 4);
  for (let i = 1; i < delays.length; i++) assert.ok((delays[i] ?? 0) >= (delays[i - 1] ?? 0), `delays grow: ${delays.join(', ')}`);
  assert.ok((delays[0] ?? 0) <= 100 && (delays[3] ?? 0) >= 400, `exponential from 100 ms: ${delays.join(', ')}`);
  assert.equal(uplink.status().reconnect_attempts, 0, 'reset once connected');
});
