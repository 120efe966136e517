import type { AnyEnvelope } from '@vigil/schemas';
import { deviceMessageEvent } from '../ingest/device-message.ts';
import type { KnownDevice } from '../registry/device-directory.ts';
import { readUplinkTopic, type UplinkTopicPattern } from './uplink-topics.ts';

export interface UplinkMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
}

export interface UplinkContext {
  readonly tenant: string;
  readonly patterns: readonly UplinkTopicPattern[];
  readonly bySerial: (tenant: string, serial: string) => KnownDevice | undefined;
  readonly now?: Date;
}

/** What becomes of one upstream message: an event to append, or why it is refused (acknowledged all the same). */
export type UplinkOutcome =
  | { readonly kind: 'event'; readonly subject: string; readonly event: AnyEnvelope; readonly deviceId: string }
  | { readonly kind: 'unmapped_topic' }
  | { readonly kind: 'unknown_serial'; readonly serial: string }
  | { readonly kind: 'malformed'; readonly deviceId: string; readonly problem: string };

/**
 * Maps an upstream message onto the Vigil device with its serial number in the configured tenant, and the event that
 * records it. Pure.
 */
export function uplinkMessageEvent(message: UplinkMessage, context: UplinkContext): UplinkOutcome {
  const topic = readUplinkTopic(context.patterns, message.topic);
  if (!topic) return { kind: 'unmapped_topic' };
  const device = context.bySerial(context.tenant, topic.serial);
  if (!device) return { kind: 'unknown_serial', serial: topic.serial };
  const made = deviceMessageEvent({ tenant: context.tenant, deviceId: device.deviceId, channel: { kind: topic.channel } }, message.payload, 'uplink', context.now);
  if (!made.ok) return { kind: 'malformed', deviceId: device.deviceId, problem: made.problem };
  return { kind: 'event', subject: made.subject, event: made.event, deviceId: device.deviceId };
}
