import { createEvent } from '@vigil/bus';
import { parseHeartbeatPayload, parseTalqAttributePayload, parseTelemetryPayload, telemetrySubject, type DeviceTopic } from '@vigil/devices-contract';
import { HeartbeatReceived, TelemetryReported, type AnyEnvelope } from '@vigil/schemas';

export type MessageSource = 'mqtt' | 'uplink';

/** An event ready to append, or why the message was refused (it is then counted and reported, never stored). */
export type DeviceMessageEvent =
  | { readonly ok: true; readonly subject: string; readonly event: AnyEnvelope }
  | { readonly ok: false; readonly problem: string };

/**
 * Turns what a device published on one of its data topics (telemetry, heartbeat, TALQ attributes) into the event that records it on
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
    case 'talq': {
      // A TALQ attribute is a reading named `<functionId>.<attributeName>`: stored like any other, and reported to the
      // CMS by the TALQ gateway, which maps that name to the attribute of the device's TALQ class.
      const read = parseTalqAttributePayload(channel.path, payload, now);
      if (!read.ok) return read;
      const measuredAt = (read.value.measuredAt ?? now).toISOString();
      const event = createEvent(TelemetryReported, { device_id: deviceId, measured_at: measuredAt, values: { [read.value.metric]: read.value.value }, source }, meta);
      return { ok: true, subject: telemetrySubject(tenant, deviceId, 'reading'), event };
    }
    case 'commands':
      return { ok: false, problem: 'commands is not a data channel' };
  }
}
