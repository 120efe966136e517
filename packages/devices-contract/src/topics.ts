/**
 * The MQTT topics of a device, all under `v1/<tenant>/<device_id>/`: it publishes `telemetry`, `heartbeat` and
 * `talq/<anything>`, and subscribes to `commands`. A device is confined to its own prefix.
 */
export type DeviceChannel = { kind: 'telemetry' } | { kind: 'heartbeat' } | { kind: 'talq'; path: string } | { kind: 'commands' };

export interface DeviceTopic {
  readonly tenant: string;
  readonly deviceId: string;
  readonly channel: DeviceChannel;
}

const tenantToken = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const uuidToken = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** TALQ sub-paths: plain path segments, no wildcards, no empty levels. */
const talqPath = /^[A-Za-z0-9_.-]{1,64}(\/[A-Za-z0-9_.-]{1,64}){0,7}$/;

export function deviceTopicPrefix(tenant: string, deviceId: string): string {
  return `v1/${tenant}/${deviceId}/`;
}

export function commandTopic(tenant: string, deviceId: string): string {
  return `${deviceTopicPrefix(tenant, deviceId)}commands`;
}

/** Reads a topic as a device topic, or undefined for anything else (including wildcards). */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const parts = topic.split('/');
  if (parts.length < 4 || parts[0] !== 'v1') return undefined;
  const [, tenant = '', deviceId = '', first = '', ...rest] = parts;
  if (!tenantToken.test(tenant) || !uuidToken.test(deviceId)) return undefined;
  const channel = channelOf(first, rest);
  return channel ? { tenant, deviceId, channel } : undefined;
}

function channelOf(first: string, rest: readonly string[]): DeviceChannel | undefined {
  if (first === 'talq') {
    const path = rest.join('/');
    return talqPath.test(path) ? { kind: 'talq', path } : undefined;
  }
  if (rest.length > 0) return undefined;
  if (first === 'telemetry' || first === 'heartbeat' || first === 'commands') return { kind: first };
  return undefined;
}
