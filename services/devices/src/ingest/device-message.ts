import { createEvent } from '@vigil/bus';
import { parseHeartbeatPayload, parseTelemetryPayload, telemetrySubject, type DeviceTopic } from '@vigil/devices-contract';
import { HeartbeatReceived, TelemetryReported, type AnyEnvelope } from '@vigil/schemas';

export type MessageSource = 'mqtt' | 'uplink';

/** An event ready to append, or why the message was refused (it is then counted and reported, never stored). */
export type DeviceMessageEvent =
  | { readonly ok: true; readonly subject: string; readonly event: AnyEnvelope }
  | { readonly ok: false; readonly problem: string };

/**
 * Turns what a device published on one of its data topics (telemetry or heartbeat) into the event that records it on
 * DEVICE_TELEMETRY. Pure: the same for the embedded broker and the uplink, so a device reads the same either way.
 * The device is the actor; its tenant comes from the registry (the caller passes the topic's, already checked).
 */
export function deviceMessageEvent(topic: DeviceTopic, payload: Uint8Array, source: MessageSource, now: Date = new Date()): DeviceMessageEvent {
  const { tenant, deviceId, channel } = topic;
  const meta = { actor: { kind: 'device' as const, id: deviceId }, tenant, now };
  switch (channel.kind) {
    case 'telemetry': {
      const read = parseTelemetryPayload(payload, now);
      if (!read.ok) return read;
      const measuredAt = (read.value.measuredAt ?? now).toISOString();
      const event = createEvent(TelemetryReported, { device_id: deviceId, measured_at: measuredAt, values: read.value.values, source }, meta);
      return { ok: true, subject: telemetrySubject(tenant, deviceId, 'reading'), event };
    }
    case 'heartbeat': {
      const read = parseHeartbeatPayload(payload);
      if (!read.ok) return read;
      const event = createEvent(HeartbeatReceived, { device_id: deviceId, uptime_s: read.value.uptimeSeconds, source }, meta);
      return { ok: true, subject: telemetrySubject(tenant, deviceId, 'heartbeat'), event };
    }
    case 'talq':
    case 'commands':
      return { ok: false, problem: `${channel.kind} is not a data channel` };
  }
}
