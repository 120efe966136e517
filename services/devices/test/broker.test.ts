// The device MQTT broker with real mqtt.js devices on a real bus: what reaches DEVICE_TELEMETRY, what is refused and
// reported on AUDIT, presence, heartbeats, revocation, commands down, and a stop.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { append, createEvent, isEventOf, type Caller } from '@vigil/bus';
import {
  DeviceAccessDenied,
  DeviceAuthenticationFailed,
  DeviceCameOnline,
  DeviceWentOffline,
  HeartbeatReceived,
  TelemetryReported,
  TenantCreated,
  TenantReactivated,
  TenantSuspended,
} from '@vigil/schemas';
import { eventually, startTestBus, type TestBus } from '@vigil/testkit';
import { ErrorWithSubackPacket, type MqttClient } from 'mqtt';
import type { DeviceBroker } from '../src/broker/device-broker.ts';
import { TenantLimits } from '../src/registry/tenant-limits.ts';
import {
  acme,
  channelEvents,
  closed,
  connectClient,
  connectDevice,
  deviceTopic,
  eventsOn,
  registerDevice,
  startBroker,
  startRegistry,
  type Registry,
} from './broker-fixture.ts';

let t: TestBus;
let registry: Registry;
let broker: DeviceBroker;
let url: string;
const clients: MqttClient[] = [];

before(async () => {
  t = await startTestBus();
  registry = await startRegistry(t.bus);
  broker = await startBroker(t.bus, registry, { maxPayloadBytes: 512, auditBudget: { perKeyPerSecond: 1 / 60, perKeyBurst: 3, totalPerSecond: 100, totalBurst: 100 } });
  url = broker.url('tcp');
});
after(async () => {
  for (const c of clients) c.end(true);
  await broker.stop();
  await registry.stop();
  await t.close();
});

async function device(options: Parameters<typeof connectDevice>[2] = {}) {
  const registered = await registerDevice(registry);
  const client = await connectDevice(url, registered, options);
  clients.push(client);
  return { ...registered, client };
}

const readings = (events: Awaited<ReturnType<typeof eventsOn>>) => events.map((e) => e.event).filter((e) => isEventOf([TelemetryReported], e));

test('a device with its secret publishes at QoS 0 and QoS 1: readings and heartbeats land on DEVICE_TELEMETRY, and it is online', async () => {
  const d = await device();
  await d.client.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ values: { temperature: 21.5 } }), { qos: 1 });
  await d.client.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ ts: 1_760_000_000_000, humidity: 40 }), { qos: 0 });
  await d.client.publishAsync(deviceTopic(d, 'heartbeat'), JSON.stringify({ uptime: 12 }), { qos: 1 });

  const stored = readings(await eventually('two readings', () => channelEvents(t.bus, d, 'reading'), (e) => e.length === 2));
  assert.deepEqual(stored.map((e) => e.data.values), [{ temperature: 21.5 }, { humidity: 40 }]);
  assert.equal(stored[1]?.data.measured_at, new Date(1_760_000_000_000).toISOString(), 'the device clock when it sent one');
  for (const e of stored) {
    assert.equal(e.tenant, 'acme');
    assert.deepEqual(e.actor, { kind: 'device', id: d.deviceId });
    assert.equal(e.data.source, 'mqtt');
  }
  const heartbeats = (await channelEvents(t.bus, d, 'heartbeat')).map((e) => e.event).filter((e) => isEventOf([HeartbeatReceived], e));
  assert.deepEqual(heartbeats.map((e) => e.data.uptime_s), [12]);
  const [online] = (await eventually('online', () => channelEvents(t.bus, d, 'presence'), (e) => e.length === 1)).map((e) => e.event);
  assert.ok(online && isEventOf([DeviceCameOnline], online) && online.data.source === 'mqtt' && online.data.device_id === d.deviceId);
});

test('a wrong secret, an unknown device, a client id that is not the device and a decommissioned device are refused and audited', async () => {
  const d = await registerDevice(registry);
  const refusedWith = async (options: Parameters<typeof connectClient>[1]) => {
    const err = await connectClient(url, options).then(
      () => assert.fail('connected'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error && 'code' in err, String(err));
    return err.code;
  };
  assert.equal(await refusedWith({ clientId: d.deviceId, username: d.deviceId, password: 'vds_not-the-secret' }), 4);
  assert.equal(await refusedWith({ clientId: d.deviceId, username: d.deviceId }), 4);
  const unknown = '0190a0b0-0000-7000-8000-00000000dead';
  assert.equal(await refusedWith({ clientId: unknown, username: unknown, password: d.secret }), 4);
  assert.equal(await refusedWith({ clientId: 'mqttjs_somebody', username: d.deviceId, password: d.secret }), 2);

  const retired = await registerDevice(registry);
  const { seq } = await registry.worker.decommission(acme, { device_id: retired.deviceId, reason: 'retired' });
  await registry.directory.reach(seq);
  assert.equal(await refusedWith({ clientId: retired.deviceId, username: retired.deviceId, password: retired.secret }), 4);

  const failures = (subject: string) =>
    eventsOn(t.bus, subject).then((events) => events.map((e) => e.event).filter((e) => isEventOf([DeviceAuthenticationFailed], e)));
  // The known device's failures are its tenant's; the unknown one's are the platform's. Three per claimed id at most.
  const ofAcme = await eventually('acme audit', () => failures('audit.acme.device_access'), (e) => e.filter((x) => x.data.claimed_device === d.deviceId).length >= 3);
  assert.deepEqual(
    ofAcme.filter((e) => e.data.claimed_device === d.deviceId).map((e) => e.data.reason),
    ['wrong_secret', 'no_credentials', 'client_id_mismatch'],
  );
  // A device the directory no longer serves has no tenant to file under: the platform's.
  const ofPlatform = await eventually(
    'platform audit',
    () => failures('audit._platform.device_access'),
    (e) => e.some((x) => x.data.claimed_device === unknown) && e.some((x) => x.data.claimed_device === retired.deviceId),
  );
  assert.deepEqual(
    ofPlatform.filter((e) => e.data.claimed_device === unknown || e.data.claimed_device === retired.deviceId).map((e) => [e.data.reason, e.data.transport, e.tenant]),
    [
      ['unknown_device', 'tcp', undefined],
      ['decommissioned', 'tcp', undefined],
    ],
  );
  const audited = JSON.stringify([...ofAcme, ...ofPlatform]);
  assert.ok(!audited.includes(d.secret) && !audited.includes('vds_not-the-secret'), 'no secret is ever copied to AUDIT');
});

test('a flood of bad logins is counted, not written to AUDIT one by one', async () => {
  const d = await registerDevice(registry);
  const before = (await broker.details())['connections_refused'];
  const attempts = 12;
  for (let i = 0; i < attempts; i++) {
    await connectClient(url, { clientId: d.deviceId, username: d.deviceId, password: `vds_guess_${i}` }).then(
      () => assert.fail('connected'),
      () => undefined,
    );
  }
  const refused = (await broker.details())['connections_refused'];
  const count = (v: unknown) => (typeof v === 'object' && v !== null && 'wrong_secret' in v && typeof v.wrong_secret === 'number' ? v.wrong_secret : 0);
  assert.equal(count(refused) - count(before), attempts);
  // The reports go to AUDIT in the background: wait for the burst, then give a fourth (there must be none) time to show up.
  const ofDevice = async () =>
    (await eventsOn(t.bus, 'audit.acme.device_access')).map((e) => e.event).filter((e) => isEventOf([DeviceAuthenticationFailed], e) && e.data.claimed_device === d.deviceId);
  await eventually('the burst on AUDIT', ofDevice, (e) => e.length >= 3);
  await sleep(300);
  assert.equal((await ofDevice()).length, 3, 'the burst of 3 per claimed id, then only counted');
});

test("another device's topics: a publish closes the connection unacknowledged, a subscription is granted 128; both are audited", async () => {
  const a = await device();
  const b = await device();
  // mqtt.js rejects a SUBACK that refuses any of the topics; the SUBACK itself says which.
  const granted = await a.client.subscribeAsync([deviceTopic(b, 'commands'), deviceTopic(a, 'commands'), '#'], { qos: 1 }).then(
    () => assert.fail('every subscription was granted'),
    (err: unknown) => (err instanceof ErrorWithSubackPacket ? err.packet : undefined),
  );
  assert.ok(granted && 'granted' in granted);
  assert.deepEqual(granted.granted, [128, 1, 128]);

  const gone = closed(a.client);
  let acknowledged = false;
  a.client.publish(deviceTopic(b, 'telemetry'), JSON.stringify({ values: { spoofed: 1 } }), { qos: 1 }, (err) => {
    if (!err) acknowledged = true;
  });
  await gone;
  await sleep(100);
  assert.equal(acknowledged, false, 'no PUBACK for a refused publish');
  assert.deepEqual(readings(await channelEvents(t.bus, b, 'reading')), [], "nothing reached b's stream");

  const denials = await eventually(
    'access denials',
    async () => (await eventsOn(t.bus, 'audit.acme.device_access')).map((e) => e.event).filter((e) => isEventOf([DeviceAccessDenied], e) && e.data.device_id === a.deviceId),
    (e) => e.length === 3,
  );
  assert.deepEqual(
    denials.map((e) => (isEventOf([DeviceAccessDenied], e) ? [e.data.action, e.data.topic, e.data.reason] : [])),
    [
      ['subscribe', deviceTopic(b, 'commands'), 'topic_not_allowed'],
      ['subscribe', '#', 'topic_not_allowed'],
      ['publish', deviceTopic(b, 'telemetry'), 'topic_not_allowed'],
    ],
  );
});

test('TALQ attributes on talq/<functionId>/<attributeName> are readings named after them; other TALQ paths are refused', async () => {
  const d = await device();
  await d.client.publishAsync(deviceTopic(d, 'talq/lampMonitor1/activePower'), JSON.stringify({ value: 48.5, ts: 1_760_000_000_000 }), { qos: 1 });
  await d.client.publishAsync(deviceTopic(d, 'talq/lampMonitor1/lampFailure'), 'true', { qos: 1 });
  const stored = readings(await eventually('two TALQ readings', () => channelEvents(t.bus, d, 'reading'), (e) => e.length === 2));
  assert.deepEqual(stored.map((e) => e.data.values), [{ 'lampMonitor1.activePower': 48.5 }, { 'lampMonitor1.lampFailure': 1 }]);
  assert.equal(stored[0]?.data.measured_at, new Date(1_760_000_000_000).toISOString());
  const gone = closed(d.client);
  d.client.publish(deviceTopic(d, 'talq/lampMonitor1'), JSON.stringify({ value: 1 }), { qos: 1 });
  await gone;
});

test('oversized and malformed payloads are refused and counted per reason; the broker keeps serving', async () => {
  const refusedBefore = (await broker.details())['messages'];
  const refuse = async (payload: string | Buffer) => {
    const d = await device();
    const gone = closed(d.client);
    d.client.publish(deviceTopic(d, 'telemetry'), payload, { qos: 1 });
    await gone;
    return d;
  };
  await refuse(Buffer.alloc(600, 0x7b));
  await refuse('not json');
  await refuse(JSON.stringify({ values: { temperature: 'warm' } }));
  await refuse(Buffer.from([0xff, 0xfe, 0x00]));
  const d = await refuse(JSON.stringify([1, 2, 3]));
  const refused = (m: unknown) => (typeof m === 'object' && m !== null && 'refused' in m && typeof m.refused === 'object' && m.refused !== null ? m.refused : {});
  const after = refused((await broker.details())['messages']);
  const was = refused(refusedBefore);
  const delta = (reason: string) => (Reflect.get(after, reason) ?? 0) - (Reflect.get(was, reason) ?? 0);
  assert.equal(delta('payload_too_large'), 1);
  assert.equal(delta('malformed_payload'), 4);

  // The same device, a fresh connection, a good reading: served.
  const again = await connectDevice(url, d);
  clients.push(again);
  await again.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ values: { ok: 1 } }), { qos: 1 });
  assert.deepEqual(
    readings(await channelEvents(t.bus, d, 'reading')).map((e) => e.data.values),
    [{ ok: 1 }],
  );
});

test('a second connection of a device takes over the first: offline taken_over, then online', async () => {
  const d = await device();
  const gone = closed(d.client);
  const second = await connectDevice(url, d);
  clients.push(second);
  await gone;
  const presence = await eventually('three presence events', () => channelEvents(t.bus, d, 'presence'), (e) => e.length === 3);
  const [first, offline, online] = presence.map((e) => e.event);
  assert.ok(first && offline && online && isEventOf([DeviceCameOnline], first) && isEventOf([DeviceWentOffline], offline) && isEventOf([DeviceCameOnline], online));
  assert.equal(offline.data.reason, 'taken_over');
  assert.equal(offline.data.session, first.data.session);
  assert.notEqual(online.data.session, first.data.session);
});

test('take-overs in quick succession: the presence alternates online and offline, in the order they happened', async () => {
  const d = await device();
  // Each connection takes over the one before as soon as it is accepted, while that one's online may still be on its
  // way to the stream: the offline of the one taken over must still come before the online of the next.
  for (let i = 0; i < 4; i++) clients.push(await connectDevice(url, d));
  const presence = await eventually('nine presence events', () => channelEvents(t.bus, d, 'presence'), (e) => e.length === 9);
  const events = presence.map((e) => e.event);
  assert.deepEqual(
    events.map((e) => (isEventOf([DeviceCameOnline], e) ? 'online' : isEventOf([DeviceWentOffline], e) ? `offline ${e.data.reason}` : e.type)),
    ['online', 'offline taken_over', 'online', 'offline taken_over', 'online', 'offline taken_over', 'online', 'offline taken_over', 'online'],
  );
  const sessions = events.map((e) => (isEventOf([DeviceCameOnline, DeviceWentOffline], e) ? e.data.session : undefined));
  for (let i = 1; i < 9; i += 2) assert.equal(sessions[i], sessions[i - 1], 'each offline is of the session just before it');
});

test('a clean DISCONNECT is offline "disconnected"', async () => {
  const d = await device();
  await d.client.endAsync();
  const presence = await eventually('offline', () => channelEvents(t.bus, d, 'presence'), (e) => e.length === 2);
  const offline = presence[1]?.event;
  assert.ok(offline && isEventOf([DeviceWentOffline], offline) && offline.data.reason === 'disconnected');
});

test('revoking the credential a device is connected with closes its connection, and it cannot come back with it', async () => {
  const d = await device();
  const gone = closed(d.client);
  const { seq } = await registry.worker.revokeCredential(acme, { device_id: d.deviceId, credential_id: d.credentialId, reason: 'lost' });
  await registry.directory.reach(seq);
  await gone;
  const presence = await eventually('offline', () => channelEvents(t.bus, d, 'presence'), (e) => e.length === 2);
  const offline = presence[1]?.event;
  assert.ok(offline && isEventOf([DeviceWentOffline], offline) && offline.data.reason === 'credential_revoked');
  await assert.rejects(connectDevice(url, d), (err: unknown) => err instanceof Error && 'code' in err && err.code === 4);
});

test('a command for a device reaches it on its commands topic, and no other device', async () => {
  const d = await device();
  const other = await device();
  await d.client.subscribeAsync(deviceTopic(d, 'commands'), { qos: 1 });
  await other.client.subscribeAsync(deviceTopic(other, 'commands'), { qos: 1 });
  const received: { topic: string; payload: unknown }[] = [];
  const heardByOther: string[] = [];
  d.client.on('message', (topic, payload) => received.push({ topic, payload: JSON.parse(payload.toString()) }));
  other.client.on('message', (topic) => heardByOther.push(topic));
  const { command_id } = await registry.worker.sendCommand(acme, { device_id: d.deviceId, name: 'dim', parameters: { level: 40, fade: true } }, 'api');
  await eventually('command received', async () => received.length, (n) => n === 1);
  assert.deepEqual(received, [{ topic: deviceTopic(d, 'commands'), payload: { command_id, name: 'dim', parameters: { level: 40, fade: true } } }]);
  await sleep(200);
  assert.deepEqual(heardByOther, []);
});

test('with a 1 s heartbeat, a device silent for 3 s is marked offline (heartbeat_missed) and disconnected', async () => {
  const quick = await startBroker(t.bus, registry, { heartbeatSeconds: 1 });
  try {
    const d = await registerDevice(registry);
    const client = await connectDevice(quick.url('tcp'), d, { keepalive: 0 });
    const started = Date.now();
    await client.publishAsync(deviceTopic(d, 'heartbeat'), JSON.stringify({ uptime: 1 }), { qos: 1 });
    await closed(client);
    assert.ok(Date.now() - started >= 2900, 'not before three intervals');
    client.end(true);
    const presence = await eventually('offline', () => channelEvents(t.bus, d, 'presence'), (e) => e.length === 2);
    const offline = presence[1]?.event;
    assert.ok(offline && isEventOf([DeviceWentOffline], offline) && offline.data.reason === 'heartbeat_missed');
  } finally {
    await quick.stop();
  }
});

test('a device over its message rate is slowed down, and refused (rate_limited) when more than a second behind', async () => {
  const limited = await startBroker(t.bus, registry, { maxMessagesPerSecond: 5 });
  try {
    // A burst of 8: 5 at once, 3 held back, all acknowledged.
    const d = await registerDevice(registry);
    const client = await connectDevice(limited.url('tcp'), d);
    await Promise.all(Array.from({ length: 8 }, (_, n) => client.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ values: { n } }), { qos: 1 })));
    assert.equal(readings(await channelEvents(t.bus, d, 'reading')).length, 8);
    assert.ok(limited.metrics.throttled >= 1);
    client.end(true);

    // A burst of 30: what would wait more than a second is refused, and the connection closed.
    const flood = await registerDevice(registry);
    const flooding = await connectDevice(limited.url('tcp'), flood);
    const gone = closed(flooding);
    for (let n = 0; n < 30; n++) flooding.publish(deviceTopic(flood, 'telemetry'), JSON.stringify({ values: { n } }), { qos: 1 });
    await gone;
    flooding.end(true);
    assert.ok(limited.metrics.refused.get('rate_limited') >= 1);
    const stored = readings(await channelEvents(t.bus, flood, 'reading')).length;
    assert.ok(stored >= 5 && stored < 30, `${stored} of the flood stored`);
    await eventually(
      'rate_limited audited',
      async () => (await eventsOn(t.bus, 'audit.acme.device_access')).map((e) => e.event).filter((e) => isEventOf([DeviceAccessDenied], e) && e.data.device_id === flood.deviceId),
      (e) => e.some((x) => isEventOf([DeviceAccessDenied], x) && x.data.reason === 'rate_limited'),
    );
  } finally {
    await limited.stop();
  }
});

test("a tenant's suspension closes its devices' connections (tenant_suspended) and refuses them until it is reactivated", async () => {
  const tenants = new TenantLimits(t.bus);
  await tenants.start();
  const gated = await startBroker(t.bus, registry, { tenants });
  try {
    const agency: Caller & { tenant: string } = { actor: { kind: 'user', id: 'owner' }, tenant: 'agency' };
    const meta = { actor: { kind: 'user' as const, id: 'platform-admin' }, tenant: 'agency' };
    const tenantSubject = 'auth.agency.tenant.agency';
    await append(t.bus, tenantSubject, createEvent(TenantCreated, { tenant_id: 'agency', name: 'Agency', max_users: 5 }, meta));
    const d = await registerDevice(registry, agency);
    const client = await connectDevice(gated.url('tcp'), d);
    const gone = closed(client);
    const { seq } = await append(t.bus, tenantSubject, createEvent(TenantSuspended, { reason: 'contract ended' }, meta));
    await gone;
    client.end(true);
    const offline = await eventually('offline', () => channelEvents(t.bus, d, 'presence'), (e) => e.some((x) => isEventOf([DeviceWentOffline], x.event)));
    assert.ok(offline.some((x) => isEventOf([DeviceWentOffline], x.event) && x.event.data.reason === 'tenant_suspended'));
    await tenants.reach(seq);
    await assert.rejects(connectDevice(gated.url('tcp'), d), (e: unknown) => e instanceof Error && 'code' in e && e.code === 5);
    const back = await append(t.bus, tenantSubject, createEvent(TenantReactivated, {}, meta));
    await tenants.reach(back.seq);
    (await connectDevice(gated.url('tcp'), d)).end(true);
  } finally {
    await gated.stop();
    await tenants.stop();
  }
});

test('a stopped broker records its devices offline (broker_stopped)', async () => {
  const stopping = await startBroker(t.bus, registry);
  const d = await registerDevice(registry);
  const client = await connectDevice(stopping.url('tcp'), d);
  await client.publishAsync(deviceTopic(d, 'telemetry'), JSON.stringify({ values: { x: 1 } }), { qos: 1 });
  await stopping.stop();
  client.end(true);
  const presence = await channelEvents(t.bus, d, 'presence');
  const offline = presence[1]?.event;
  assert.ok(offline && isEventOf([DeviceWentOffline], offline) && offline.data.reason === 'broker_stopped', JSON.stringify(presence));
});

test('the broker reports its listeners and counters for /health/detailed', async () => {
  const details = await broker.details();
  assert.deepEqual(details['listeners'], [{ transport: 'tcp', url }]);
  assert.equal(details['bus_connected'], true);
  assert.ok(typeof details['connected_devices'] === 'number' && details['connected_devices'] > 0);
  assert.ok(JSON.stringify(details['messages']).includes('telemetry.qos1'));
});
