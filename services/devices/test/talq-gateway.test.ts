// The TALQ gateway against a CMS on loopback (a small HTTP server): log reports delivered, retried while the CMS
// fails, kept across a restart; override commands from the CMS recorded for the right device and delivered to it
// over MQTT by the broker.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { append, createEvent, isEventOf, loadAggregate } from '@vigil/bus';
import { telemetrySubject } from '@vigil/devices-contract';
import { DeviceCommandRequested, TelemetryReported } from '@vigil/schemas';
import { createCertificateAuthority, issueSaeCertificate, issueServerCertificate } from '@vigil/pki';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { startTalqGateway, type TalqGateway } from '../src/talq/talq-gateway.ts';
import { startTalqListener } from '../src/talq/talq-listener.ts';
import type { TalqSettings } from '../src/talq/talq-settings.ts';
import { acme, connectDevice, startBroker, startRegistry, type Registry } from './broker-fixture.ts';
import { waitFor } from './uplink-support.ts';

interface CmsRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
  readonly status: number;
}

/** A CMS on loopback: records every request, answers with the queued statuses, then 201. */
class LoopbackCms {
  readonly requests: CmsRequest[] = [];
  readonly answers: number[] = [];
  readonly #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://cms');
        const status = this.answers.shift() ?? 201;
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
        this.requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body, status });
        res.statusCode = status;
        res.end(status >= 400 ? JSON.stringify([{ key: 'genericError' }]) : undefined);
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address: AddressInfo | string | null = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/talq/v2`;
  }

  /** Every entry of the reports the CMS acknowledged, as `<srcAddress> <attribute or event> <timestamp>`. */
  acknowledgedEntries(): string[] {
    return this.requests.filter((r) => r.status < 300).flatMap((r) => entryKeys(r.body));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function entryKeys(body: unknown): string[] {
  const entries: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'entries') : undefined;
  if (!Array.isArray(entries)) return [];
  return entries.map((e: unknown) => {
    const data: unknown = typeof e === 'object' && e !== null ? Reflect.get(e, 'data') : undefined;
    const read = (k: string) => (typeof data === 'object' && data !== null ? String(Reflect.get(data, k)) : '');
    return `${read('srcAddress')} ${read('type') === 'EventLogData' ? read('eventType') : read('attributeName')} ${read('timestamp')}`;
  });
}

const gatewayAddress = '0b8e6a64-6d3c-4c64-9a4f-0d2f3c1b7a10';
const cmsAddress = '5f0e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
const secret = 'a-shared-secret-of-the-cms-and-vigil';
let t: TestBus;
let registry: Registry;
let cms: LoopbackCms;
let gateway: TalqGateway;
let lampId = '';
let sensorId = '';
let plainId = '';

const settings = (): TalqSettings => ({
  tenant: 'acme',
  gatewayAddress,
  reports: { cms: { baseUrl: cms.url, token: 'cms-token' }, loggerAddress: 'vigil-telemetry', intervalMs: 50, maxEntries: 100 },
  listener: { host: '127.0.0.1', port: 0, cmsAddress, secret },
});
const startGateway = () =>
  startTalqGateway({ settings: settings(), bus: t.bus, logger: testLogger('talq'), directory: registry.directory, registry: registry.worker, reportRetry: { minMs: 20, maxMs: 200 } });

let clock = Date.parse('2026-03-01T12:00:00Z');
/** Appends a reading (as the broker or the uplink would) and returns its time, unique to this reading. */
async function report(deviceId: string, values: Record<string, number>): Promise<string> {
  clock += 1000;
  const measuredAt = new Date(clock).toISOString();
  const event = createEvent(TelemetryReported, { device_id: deviceId, measured_at: measuredAt, values, source: 'mqtt' }, { actor: { kind: 'device', id: deviceId }, tenant: 'acme' });
  await append(t.bus, telemetrySubject('acme', deviceId, 'reading'), event);
  return measuredAt;
}

function override(body: unknown, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
  const url = new URL(`${gateway.endpoints[0]?.split(' ')[0] ?? ''}/override-commands`);
  const params = { clientAddress: cmsAddress, talqRequestId: crypto.randomUUID(), ...query };
  for (const [k, v] of Object.entries(params)) if (v !== '') url.searchParams.set(k, v);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'talq-api-version': '2.7.1', authorization: `Bearer ${secret}`, ...headers },
    body: JSON.stringify(body),
  });
}

before(async () => {
  t = await startTestBus();
  registry = await startRegistry(t.bus);
  const register = async (serial: string, talq?: { address: string; device_class: string }) => {
    const r = await registry.worker.register(acme, { name: serial, device_type: 'streetlight', serial, ...(talq ? { talq } : {}) });
    await registry.directory.reach(r.seq);
    return r.device_id;
  };
  lampId = await register('SN-LAMP', { address: 'lamp-0001', device_class: 'LuminaireController' });
  sensorId = await register('SN-SENSOR', { address: 'sensor-0001', device_class: 'LightSensor' });
  plainId = await register('SN-PLAIN');
  cms = new LoopbackCms();
  await cms.listen();
  gateway = await startGateway();
});

after(async () => {
  await gateway.stop();
  await cms.close();
  await registry.stop();
  await t.close();
});

test('log reports reach the CMS as TALQ defines them, for devices with a TALQ binding only', async () => {
  const at = await report(lampId, { lampLevel: 80, power: 35.5 });
  await report(plainId, { lampLevel: 10 });
  const lux = await report(sensorId, { lux: 12 });
  await waitFor('both readings reported', () => cms.acknowledgedEntries().length >= 3);

  assert.deepEqual(cms.acknowledgedEntries().sort(), [`lamp-0001/lampActuator1 actualLightState ${at}`, `lamp-0001/lampMonitor1 activePower ${at}`, `sensor-0001/lightSensor1 lightLevel ${lux}`].sort());
  const [first] = cms.requests;
  assert.ok(first);
  assert.equal(first.path, '/talq/v2/log-reports');
  assert.equal(first.query.get('clientAddress'), gatewayAddress);
  assert.match(first.query.get('talqRequestId') ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(first.headers['talq-api-version'], '2.7.1');
  assert.equal(first.headers['authorization'], 'Bearer cms-token');
  assert.equal(typeof first.body === 'object' && first.body !== null ? Reflect.get(first.body, 'address') : undefined, 'vigil-telemetry');
});

test('the CMS failing then recovering: a report is sent again, unchanged, until acknowledged; each entry once', async () => {
  cms.answers.push(503, 503, 500);
  const before = cms.requests.length;
  const times = [await report(lampId, { lampLevel: 20 }), await report(lampId, { lampLevel: 21 }), await report(lampId, { lampLevel: 22 })];
  await waitFor('the three readings acknowledged', () => times.every((at) => cms.acknowledgedEntries().includes(`lamp-0001/lampActuator1 actualLightState ${at}`)));

  const requests = cms.requests.slice(before);
  assert.equal(requests.filter((r) => r.status >= 500).length, 3, 'three refusals, then acknowledged');
  const byRequestId = new Map<string, CmsRequest[]>();
  for (const r of requests) byRequestId.set(r.query.get('talqRequestId') ?? '', [...(byRequestId.get(r.query.get('talqRequestId') ?? '') ?? []), r]);
  for (const sent of byRequestId.values()) {
    assert.equal(sent.filter((r) => r.status < 300).length, 1, 'each report acknowledged once');
    assert.ok(sent.every((r) => JSON.stringify(r.body) === JSON.stringify(sent[0]?.body)), 'a retry sends the same report');
  }
  const acknowledged = cms.acknowledgedEntries();
  assert.equal(new Set(acknowledged).size, acknowledged.length, 'no entry acknowledged twice');
  const status = gateway.status();
  const reports: unknown = status['log_reports'];
  assert.ok(typeof reports === 'object' && reports !== null && Number(Reflect.get(reports, 'failed_attempts')) >= 3);
});

test('a gateway stopped while the CMS is down loses nothing: the next one delivers what was waiting', async () => {
  cms.answers.push(...Array.from({ length: 1000 }, () => 503));
  const at = await report(lampId, { lampLevel: 55 });
  await waitFor('a failed attempt', () => cms.requests.some((r) => r.status === 503 && entryKeys(r.body).some((k) => k.endsWith(at))));
  await gateway.stop();
  cms.answers.length = 0;
  gateway = await startGateway();
  await waitFor('the waiting reading delivered', () => cms.acknowledgedEntries().includes(`lamp-0001/lampActuator1 actualLightState ${at}`));
  const acknowledged = cms.acknowledgedEntries();
  assert.equal(new Set(acknowledged).size, acknowledged.length, 'no entry acknowledged twice');
});

test('an override command from the CMS is recorded as a command for the addressed device; bad requests are refused', async () => {
  const accepted = await override({ addresses: [{ resource: 'devices', address: 'lamp-0001' }], targetCommand: { state: { name: 'LevelState', value: 30 } } });
  assert.equal(accepted.status, 201);
  assert.equal(accepted.headers.get('talq-api-version'), '2.7.1');
  const commands = (await loadAggregate(t.bus, telemetrySubject('acme', lampId, 'command'))).events.map((e) => e.event);
  const command = commands.at(-1);
  assert.ok(command && isEventOf([DeviceCommandRequested], command));
  assert.equal(command.data.name, 'talq.override');
  assert.equal(command.data.origin, 'talq');
  assert.deepEqual({ function: command.data.parameters['function'], level: command.data.parameters['level'] }, { function: 'lampActuator1', level: 30 });
  assert.deepEqual(command.actor, { kind: 'service', id: `talq-cms:${cmsAddress}` });
  assert.equal((await loadAggregate(t.bus, telemetrySubject('acme', sensorId, 'command'))).events.length, 0);

  const keyOf = async (r: Response) => {
    const body: unknown = await r.json();
    const first: unknown = Array.isArray(body) ? body[0] : undefined;
    return { status: r.status, key: typeof first === 'object' && first !== null ? Reflect.get(first, 'key') : undefined };
  };
  const lampTo30 = { addresses: [{ resource: 'devices', address: 'lamp-0001' }], targetCommand: { state: { name: 'LevelState', value: 30 } } };
  assert.deepEqual(await keyOf(await override(lampTo30, {}, { authorization: 'Bearer wrong' })), { status: 401, key: 'genericError' });
  assert.deepEqual(await keyOf(await override(lampTo30, { clientAddress: gatewayAddress })), { status: 400, key: 'parameterValueNotValid' });
  assert.deepEqual(await keyOf(await override(lampTo30, { talqRequestId: '' })), { status: 400, key: 'parameterMissing' });
  assert.deepEqual(await keyOf(await override(lampTo30, {}, { 'talq-api-version': '1.0' })), { status: 400, key: 'headerValueNotValid' });
  assert.deepEqual(await keyOf(await override({ addresses: 'lamp-0001' })), { status: 400, key: 'payloadError' });
  assert.deepEqual(await keyOf(await override({ ...lampTo30, addresses: [{ resource: 'devices', address: 'nobody' }] })), { status: 422, key: 'resourceNotFound' });
  assert.deepEqual(await keyOf(await override({ ...lampTo30, addresses: [{ resource: 'devices', address: 'sensor-0001' }] })), { status: 422, key: 'overrideAddressNotValid' });
  const after = (await loadAggregate(t.bus, telemetrySubject('acme', lampId, 'command'))).events.length;
  assert.equal(after, commands.length, 'no refused request recorded anything');
});

test('the CMS reads the device model: device classes and the TALQ devices of the tenant', async () => {
  const base = gateway.endpoints[0]?.split(' ')[0] ?? '';
  const get = (path: string) => fetch(`${base}${path}?clientAddress=${cmsAddress}`, { headers: { 'talq-api-version': '2.7.1', authorization: `Bearer ${secret}` } });
  const devices: unknown = await (await get('/devices')).json();
  assert.ok(Array.isArray(devices));
  assert.deepEqual(devices.map((d: unknown) => (typeof d === 'object' && d !== null ? [Reflect.get(d, 'address'), Reflect.get(d, 'class')] : [])).sort(), [
    ['lamp-0001', 'LuminaireController'],
    ['sensor-0001', 'LightSensor'],
  ]);
  assert.equal((await get('/device-classes/LuminaireController')).status, 200);
  assert.equal((await get('/device-classes/Teapot')).status, 404);
});

test('an override reaches the lamp over MQTT, on its commands topic', async () => {
  const broker = await startBroker(t.bus, registry);
  const issued = await registry.worker.issueCredential(acme, { device_id: lampId, credential: { kind: 'secret' } });
  await registry.directory.reach(issued.seq);
  const device = await connectDevice(broker.url('tcp'), { deviceId: lampId, secret: issued.secret ?? '', credentialId: issued.credential_id, tenant: 'acme' });
  try {
    const received: unknown[] = [];
    device.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString('utf8'))));
    await device.subscribeAsync(`v1/acme/${lampId}/commands`, { qos: 1 });
    const answer = await override({ addresses: [{ resource: 'devices', address: 'lamp-0001' }], targetCommand: { state: { name: 'LevelState', value: 65 }, rampToLevelTime: 3 } });
    assert.equal(answer.status, 201);
    await waitFor('the command at the lamp', () => received.length > 0, 10_000);
    const [command] = received;
    assert.ok(typeof command === 'object' && command !== null);
    assert.equal(Reflect.get(command, 'name'), 'talq.override');
    const parameters: unknown = Reflect.get(command, 'parameters');
    assert.ok(typeof parameters === 'object' && parameters !== null);
    assert.equal(Reflect.get(parameters, 'level'), 65);
    assert.equal(Reflect.get(parameters, 'ramp_to_level_s'), 3);
  } finally {
    await device.endAsync(true);
    await broker.stop();
  }
});

test('with mutual TLS, the CMS is known by its client certificate; a client without one does not get in', async () => {
  const ca = await createCertificateAuthority({ commonName: 'TALQ test CA' });
  const server = await issueServerCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = await issueSaeCertificate(ca, { saeId: 'cms' });
  const listener = await startTalqListener({
    host: '127.0.0.1',
    port: 0,
    tenant: 'acme',
    cmsAddress,
    tls: { cert: Buffer.from(server.certificatePem), key: Buffer.from(server.privateKeyPem), ca: Buffer.from(ca.certificatePem) },
    directory: registry.directory,
    registry: registry.worker,
    logger: testLogger('talq'),
  });
  const post = (withCertificate: boolean) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(`${listener.url}/override-commands?clientAddress=${cmsAddress}&talqRequestId=${crypto.randomUUID()}`);
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          ca: ca.certificatePem,
          ...(withCertificate ? { cert: client.certificatePem, key: client.privateKeyPem } : {}),
          headers: { 'content-type': 'application/json', 'talq-api-version': '2.7.1' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ addresses: [{ resource: 'devices', address: 'lamp-0001' }], targetCommand: { state: { name: 'LevelState', value: 10 } } }));
    });
  try {
    assert.equal(await post(true), 201);
    await assert.rejects(post(false));
  } finally {
    await listener.close();
  }
});
