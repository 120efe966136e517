// What the broker tests share: a registry on a real bus, devices registered through it, mqtt.js clients, and
// reading back what reached the streams.
import { loadAggregate, type Bus, type Caller, type StoredEvent } from '@vigil/bus';
import { telemetrySubject, type TelemetryChannel } from '@vigil/devices-contract';
import { testLogger } from '@vigil/testkit';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { DeviceBroker, type DeviceBrokerOptions } from '../src/broker/device-broker.ts';
import { DeviceDirectory } from '../src/registry/device-directory.ts';
import { RegistryWorker } from '../src/registry/registry-worker.ts';

export const acme: Caller & { readonly tenant: string } = { actor: { kind: 'user', id: 'alice' }, tenant: 'acme' };

export interface RegisteredDevice {
  readonly deviceId: string;
  readonly secret: string;
  readonly credentialId: string;
  readonly tenant: string;
}

export interface Registry {
  readonly worker: RegistryWorker;
  readonly directory: DeviceDirectory;
  stop(): Promise<void>;
}

export async function startRegistry(bus: Bus): Promise<Registry> {
  const worker = new RegistryWorker({ bus, logger: testLogger('registry') });
  worker.start();
  const directory = new DeviceDirectory(bus);
  await directory.start();
  return {
    worker,
    directory,
    async stop() {
      await directory.stop();
      await worker.stop();
    },
  };
}

let serials = 0;

/** A device registered and given a secret through the registry's own commands, known to the directory on return. */
export async function registerDevice(registry: Registry, caller = acme): Promise<RegisteredDevice> {
  const { device_id } = await registry.worker.register(caller, { name: 'lamp', device_type: 'streetlight', serial: `SN-${process.pid}-${++serials}` });
  const issued = await registry.worker.issueCredential(caller, { device_id, credential: { kind: 'secret' } });
  await registry.directory.reach(issued.seq);
  return { deviceId: device_id, secret: issued.secret ?? '', credentialId: issued.credential_id, tenant: caller.tenant };
}

export function brokerOptions(bus: Bus, registry: Registry, more: Partial<DeviceBrokerOptions> = {}): DeviceBrokerOptions {
  return {
    bus,
    directory: registry.directory,
    logger: testLogger('broker'),
    listen: { host: '127.0.0.1', tcpPort: 0 },
    heartbeatSeconds: 60,
    maxMessagesPerSecond: 0,
    maxPayloadBytes: 1024,
    ...more,
  };
}

export async function startBroker(bus: Bus, registry: Registry, more: Partial<DeviceBrokerOptions> = {}): Promise<DeviceBroker> {
  const broker = new DeviceBroker(brokerOptions(bus, registry, more));
  await broker.start();
  return broker;
}

/** Connects an mqtt.js client; rejects with the CONNACK refusal (its `code`) or a closed connection. */
export function connectClient(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...options });
    const fail = (err: Error) => {
      client.removeListener('connect', ok);
      client.end(true);
      reject(err);
    };
    const ok = () => {
      client.removeListener('error', fail);
      resolve(client);
    };
    client.once('connect', ok);
    client.once('error', fail);
  });
}

export function connectDevice(url: string, device: RegisteredDevice, options: IClientOptions = {}): Promise<MqttClient> {
  return connectClient(url, { clientId: device.deviceId, username: device.deviceId, password: device.secret, ...options });
}

export function deviceTopic(device: Pick<RegisteredDevice, 'tenant' | 'deviceId'>, channel: string): string {
  return `v1/${device.tenant}/${device.deviceId}/${channel}`;
}

/** Resolves when the client's connection closes (the broker closed it). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** The events of one subject, read straight from the stream. */
export async function eventsOn(bus: Bus, subject: string): Promise<StoredEvent[]> {
  return (await loadAggregate(bus, subject)).events;
}

export function channelEvents(bus: Bus, device: Pick<RegisteredDevice, 'tenant' | 'deviceId'>, channel: TelemetryChannel): Promise<StoredEvent[]> {
  return eventsOn(bus, telemetrySubject(device.tenant, device.deviceId, channel));
}

