import { commandTopic, deviceTopicPrefix, parseDeviceTopic, type DeviceTopic } from '@vigil/devices-contract';

/** Who a connection is: the device it authenticated as, in its tenant. */
export interface DeviceIdentity {
  readonly tenant: string;
  readonly deviceId: string;
}

/** The topics of one device, spelled once per connection so that each publish is a string comparison. */
export interface DeviceTopics {
  readonly identity: DeviceIdentity;
  readonly prefix: string;
  readonly telemetry: DeviceTopic;
  readonly heartbeat: DeviceTopic;
  readonly commands: string;
}

export function deviceTopics(identity: DeviceIdentity): DeviceTopics {
  const { tenant, deviceId } = identity;
  const prefix = deviceTopicPrefix(tenant, deviceId);
  return {
    identity,
    prefix,
    telemetry: { tenant, deviceId, channel: { kind: 'telemetry' } },
    heartbeat: { tenant, deviceId, channel: { kind: 'heartbeat' } },
    commands: commandTopic(tenant, deviceId),
  };
}

/**
 * What a device may publish: its own `telemetry`, `heartbeat` and `talq/...` topics, nothing else (not its
 * `commands`, which only the broker publishes; no other device's topics; no `$SYS`). Undefined means refused.
 */
export function publishableTopic(topics: DeviceTopics, topic: string): DeviceTopic | undefined {
  const start = topics.prefix.length;
  // The two topics nearly every message uses are matched without parsing.
  if (topic.length === start + 9 && topic.startsWith(topics.prefix) && topic.endsWith('telemetry')) return topics.telemetry;
  if (topic.length === start + 9 && topic.startsWith(topics.prefix) && topic.endsWith('heartbeat')) return topics.heartbeat;
  if (!topic.startsWith(`${topics.prefix}talq/`)) return undefined;
  const parsed = parseDeviceTopic(topic);
  return parsed?.channel.kind === 'talq' ? parsed : undefined;
}

/** What a device may subscribe to: exactly its own `commands` topic (no wildcard reaches further). */
export function subscribableTopic(topics: DeviceTopics, filter: string): boolean {
  return filter === topics.commands;
}

/**
 * What the broker forwards to a connection: only its own `commands` topic. No device may publish there, so whatever
 * arrives on it comes from the broker itself; a device's telemetry is never forwarded to anyone.
 */
export function forwardable(topics: DeviceTopics, topic: string): boolean {
  return topic === topics.commands;
}
