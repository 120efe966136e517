// The uplink acknowledges upstream only what is on the bus. This file runs its own nats-server (from PATH, on a free
// port) rather than the shared test NATS, because it stops and restarts it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectBus, drainBus, followEvents, isEventOf, startLocalNatsServer, type Bus, type Caller, type Following, type LocalNatsServer } from '@vigil/bus';
import { TelemetryReported, type AnyEnvelope } from '@vigil/schemas';
import { testLogger, testNamespace } from '@vigil/testkit';
import { connectAsync, type MqttClient } from 'mqtt';
import { DeviceDirectory } from '../src/registry/device-directory.ts';
import { RegistryWorker } from '../src/registry/registry-worker.ts';
import { Uplink } from '../src/uplink/uplink.ts';
import { startUpstreamBroker, uplinkSettingsFor, waitFor, type UpstreamBroker } from './uplink-support.ts';

let nats: LocalNatsServer;
let port = 0;
let bus: Bus;
let worker: RegistryWorker;
let directory: DeviceDirectory;
let broker: UpstreamBroker;
let publisher: MqttClient;
let following: Following;
let deviceId = '';
const events: AnyEnvelope[] = [];
const acme: Caller & { tenant: string } = { actor: { kind: 'user', id: 'alice' }, tenant: 'acme' };

const seqs = () => events.flatMap((e) => (isEventOf([TelemetryReported], e) && e.data.device_id === deviceId ? [e.data.values['seq'] ?? -1] : [])).sort((a, b) => a - b);
const newUplink = () =>
  new Uplink({ settings: uplinkSettingsFor(broker, 'acme'), bus, logger: testLogger('uplink'), directory, appendRetry: { minMs: 50, maxMs: 200 } });
const publishSeq = (seq: number) => publisher.publishAsync('registries/42/devices/SN-OUT-1/events', JSON.stringify({ values: { seq } }), { qos: 1 });

async function restartNats(): Promise<void> {
  nats = await startLocalNatsServer({ port, storeDir: nats.storeDir });
  await waitFor('the bus to reconnect', async () => {
    try {
      await bus.jsm.streams.info(bus.names.stream('DEVICE_TELEMETRY'));
      return true;
    } catch {
      return false;
    }
  });
}

before(async () => {
  nats = await startLocalNatsServer();
  port = Number(new URL(nats.url).port);
  bus = await connectBus({ servers: [nats.url], name: 'uplink-outage', logger: testLogger('bus'), namespace: testNamespace() });
  worker = new RegistryWorker({ bus, logger: testLogger('registry') });
  worker.start();
  directory = new DeviceDirectory(bus);
  await directory.start();
  const registered = await worker.register(acme, { name: 'Outage 1', device_type: 'streetlight', serial: 'SN-OUT-1' });
  deviceId = registered.device_id;
  await directory.reach(registered.seq);
  following = await followEvents(bus, 'telemetry.acme.>', ({ event }) => events.push(event));
  broker = await startUpstreamBroker();
  publisher = await connectAsync(broker.url, { protocolVersion: broker.protocolVersion, clientId: 'upstream-registry', clean: false });
});

after(async () => {
  await publisher.endAsync(true);
  await broker.close();
  await following.stop();
  await directory.stop();
  await worker.stop();
  await drainBus(bus);
  await nats.stop();
});

test('bus stopped: the held message gets no PUBACK, and the upstream broker redelivers it (and the rest) after', async () => {
  let uplink = newUplink();
  uplink.start();
  await waitFor('the uplink to subscribe', () => uplink.status().subscribed);
  await publishSeq(1);
  await waitFor('message 1', () => seqs().length === 1);

  await nats.stop({ keepStore: true });
  for (const seq of [2, 3, 4]) await publishSeq(seq);
  await waitFor('message 2 to be held', () => uplink.status().messages.append_retries > 0);
  // The uplink goes away while holding message 2 (a crash or a redeploy would do the same). Had it acknowledged
  // message 2 before storing it, the broker would have dropped it and it would never arrive below.
  await uplink.stop();
  const stopped = uplink.status().messages;
  assert.equal(stopped.acknowledged, 1, 'only message 1 was acknowledged');
  assert.ok(stopped.left_for_redelivery >= 1);

  await restartNats();
  uplink = newUplink();
  uplink.start();
  await waitFor('messages 2 to 4, redelivered', () => seqs().length >= 4);
  await uplink.stop();
  assert.deepEqual(seqs(), [1, 2, 3, 4], 'each once');
  assert.equal(uplink.status().messages.acknowledged, 3);
});

test('bus stopped while the uplink stays: the message waits unacknowledged, then is stored and acknowledged', async () => {
  const uplink = newUplink();
  uplink.start();
  await waitFor('the uplink to subscribe', () => uplink.status().subscribed);
  await nats.stop({ keepStore: true });
  await publishSeq(5);
  await waitFor('message 5 to be held', () => uplink.status().messages.append_retries > 0);
  assert.equal(uplink.status().messages.acknowledged, 0);
  await restartNats();
  await waitFor('message 5', () => seqs().includes(5));
  await waitFor('its acknowledgement', () => uplink.status().messages.acknowledged === 1);
  await uplink.stop();
  assert.deepEqual(seqs(), [1, 2, 3, 4, 5]);
});
