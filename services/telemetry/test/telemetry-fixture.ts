// What the telemetry tests share: events as the device services append them, a caller, catching up, a replay.
import { DeliverPolicy } from '@nats-io/jetstream';
import { append, createEvent, request, type Bus, type Caller, type Delivery } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { deviceSubject, telemetrySubject } from '@vigil/devices-contract';
import type { StartedService } from '@vigil/runtime';
import { DeviceCameOnline, DeviceCredentialIssued, DeviceDecommissioned, DeviceRegistered, DeviceWentOffline, HeartbeatReceived, TelemetryReported, type StreamName } from '@vigil/schemas';
import { readCheckpoint, type Database } from '@vigil/store';
import { testLogger } from '@vigil/testkit';
import { createTelemetryService, type TelemetryServiceOptions } from '../src/index.ts';

const actor = { kind: 'user', id: '0190a5d0-0000-7000-8000-0000000000aa' } as const;
const deviceActor = (id: string) => ({ kind: 'device', id }) as const;

export function caller(tenant: string): Caller {
  return { actor, tenant };
}

export async function register(bus: Bus, tenant: string, deviceId: string, name = `device ${deviceId.slice(-4)}`): Promise<number> {
  const event = createEvent(
    DeviceRegistered,
    { device_id: deviceId, name, device_type: 'streetlight', serial: `SN-${deviceId}`, metadata: { site: 'north' }, talq: { address: `urn:talq:${deviceId}`, device_class: 'LampActuator' } },
    { actor, tenant },
  );
  return (await append(bus, deviceSubject(tenant, deviceId), event)).seq;
}

export async function issueCredential(bus: Bus, tenant: string, deviceId: string, credentialId: string, replaces: string[] = []): Promise<number> {
  const event = createEvent(DeviceCredentialIssued, { credential_id: credentialId, kind: 'secret', sha256: 'cd'.repeat(32), replaces }, { actor, tenant });
  return (await append(bus, deviceSubject(tenant, deviceId), event)).seq;
}

export async function decommission(bus: Bus, tenant: string, deviceId: string): Promise<number> {
  return (await append(bus, deviceSubject(tenant, deviceId), createEvent(DeviceDecommissioned, { reason: 'removed' }, { actor, tenant }))).seq;
}

export async function report(bus: Bus, tenant: string, deviceId: string, measuredAt: number, values: Record<string, number>): Promise<number> {
  const event = createEvent(
    TelemetryReported,
    { device_id: deviceId, measured_at: new Date(measuredAt).toISOString(), values, source: 'mqtt' },
    { actor: deviceActor(deviceId), tenant },
  );
  return (await append(bus, telemetrySubject(tenant, deviceId, 'reading'), event)).seq;
}

export async function heartbeat(bus: Bus, tenant: string, deviceId: string, uptime: number): Promise<number> {
  const event = createEvent(HeartbeatReceived, { device_id: deviceId, uptime_s: uptime, source: 'uplink' }, { actor: deviceActor(deviceId), tenant });
  return (await append(bus, telemetrySubject(tenant, deviceId, 'heartbeat'), event)).seq;
}

export async function presence(bus: Bus, tenant: string, deviceId: string, online: boolean, session: string): Promise<number> {
  const event = online
    ? createEvent(DeviceCameOnline, { device_id: deviceId, source: 'mqtt', session }, { actor: deviceActor(deviceId), tenant })
    : createEvent(DeviceWentOffline, { device_id: deviceId, source: 'mqtt', session, reason: 'disconnected' }, { actor: deviceActor(deviceId), tenant });
  return (await append(bus, telemetrySubject(tenant, deviceId, 'presence'), event)).seq;
}

/** Waits until a projection has applied everything its stream holds now. */
export async function caughtUp(bus: Bus, database: Database, projection: string, stream: StreamName, timeoutMs = 20_000): Promise<number> {
  const last = (await bus.jsm.streams.info(bus.names.stream(stream))).state.last_seq;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const checkpoint = await readCheckpoint(database, projection);
    if (checkpoint >= last) return checkpoint;
    if (Date.now() > deadline) throw new Error(`${projection} stayed at ${checkpoint}, short of ${last}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function ask<R>(bus: Bus, subject: string, data: unknown, parse: (result: unknown) => R, from?: Caller): Promise<R> {
  return request(bus, subject, data, { timeoutMs: 15_000, parse, ...(from ? { caller: from } : {}) });
}

/** Starts the service as `pnpm start` would, with the default configuration. */
export async function startTelemetry(bus: Bus, database: Database, options: TelemetryServiceOptions = {}): Promise<StartedService> {
  return createTelemetryService({ leaseTtlMs: 1000, ...options }).start({
    config: loadConfig({}),
    logger: testLogger('telemetry'),
    bus,
    database,
    instance: 'test',
    version: '0.0.0',
  });
}

const decoder = new TextDecoder();

/** A stream's events up to a sequence, in batches, as a projector sees them (what `projections verify` replays). */
export async function* replay(bus: Bus, stream: StreamName, untilSeq: number): AsyncGenerator<Delivery[]> {
  const consumer = await bus.js.consumers.get(bus.names.stream(stream), { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1000 });
  let batch: Delivery[] = [];
  try {
    for await (const m of messages) {
      const validation = bus.registry.validate(JSON.parse(decoder.decode(m.data)));
      if (validation.ok) batch.push({ event: validation.event, seq: m.seq, subject: bus.names.plain(m.subject), deliveryCount: 1 });
      if (batch.length >= 250) {
        yield batch;
        batch = [];
      }
      if (m.seq >= untilSeq) break;
    }
  } finally {
    await messages.close();
  }
  if (batch.length > 0) yield batch;
}
