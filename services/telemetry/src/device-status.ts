// What a device last said, folded from its DEVICE_TELEMETRY events: pure, so it is tested without a bus.
import { isEventOf } from '@vigil/bus';
import { DeviceCameOnline, DeviceWentOffline, HeartbeatReceived, TelemetryReported, type AnyEnvelope } from '@vigil/schemas';
import { uuidPattern } from './device-record.ts';

export interface DeviceStatus {
  readonly online: boolean;
  /** The session that brought it online; null while offline. */
  readonly session: string | null;
  /** Epoch ms of the last message of any kind from the device (when Vigil received it). */
  readonly lastSeenAt: number | null;
  readonly lastUptimeS: number | null;
}

export const neverSeen: DeviceStatus = { online: false, session: null, lastSeenAt: null, lastUptimeS: null };

const statusEvents = [TelemetryReported, HeartbeatReceived, DeviceCameOnline, DeviceWentOffline] as const;

/** Where a telemetry subject `telemetry.<tenant>.<device_id>.<channel>` points. */
export interface TelemetrySubject {
  readonly tenant: string;
  readonly deviceId: string;
  readonly channel: string;
}

export function telemetrySubjectOf(subject: string): TelemetrySubject | undefined {
  const tokens = subject.split('.');
  if (tokens.length !== 4 || tokens[0] !== 'telemetry') return undefined;
  const [, tenant = '', deviceId = '', channel = ''] = tokens;
  return uuidPattern.test(deviceId) ? { tenant, deviceId: deviceId.toLowerCase(), channel } : undefined;
}

const seen = (status: DeviceStatus, at: string): number => Math.max(status.lastSeenAt ?? 0, Date.parse(at));

/**
 * Applies one event. Readings, heartbeats, coming online and anything on the TALQ channel are messages from the
 * device (last seen = when Vigil received it). Going offline is not; and an offline of another session than the
 * current one is stale (the device has reconnected meanwhile, possibly through another broker) and changes nothing.
 * Commands are to the device, not from it.
 */
export function evolveStatus(status: DeviceStatus, event: AnyEnvelope, channel: string): DeviceStatus {
  if (!isEventOf(statusEvents, event)) return channel === 'talq' ? { ...status, lastSeenAt: seen(status, event.at) } : status;
  switch (event.type) {
    case 'device.telemetry.reported':
      return { ...status, lastSeenAt: seen(status, event.at) };
    case 'device.heartbeat.received':
      return { ...status, lastSeenAt: seen(status, event.at), lastUptimeS: event.data.uptime_s };
    case 'device.presence.online':
      return { ...status, online: true, session: event.data.session, lastSeenAt: seen(status, event.at) };
    case 'device.presence.offline':
      return status.session === null || status.session === event.data.session ? { ...status, online: false, session: null } : status;
  }
}
