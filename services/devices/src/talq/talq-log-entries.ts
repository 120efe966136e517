import { isEventOf } from '@vigil/bus';
import { DeviceCameOnline, DeviceWentOffline, TelemetryReported, type AnyEnvelope } from '@vigil/schemas';
import type { KnownDevice } from '../registry/device-directory.ts';
import { attributeOfMetric, talqDeviceClass, type TalqAttributeModel } from './talq-device-classes.ts';

/** TALQ AttributeLogData: one attribute value of a device function at a time. */
export interface AttributeLogData {
  readonly type: 'AttributeLogData';
  readonly srcAddress: string;
  readonly timestamp: string;
  readonly attributeName: string;
  readonly attributeValue: { readonly type: string; readonly timestamp: string; readonly value: unknown };
}

/** TALQ EventLogData: a condition starting (startEndFlag true) or ending (false). */
export interface EventLogData {
  readonly type: 'EventLogData';
  readonly srcAddress: string;
  readonly timestamp: string;
  readonly eventType: string;
  readonly startEndFlag: boolean;
}

/** One entry of a TALQ LogReport. */
export interface LogEntry {
  readonly data: AttributeLogData | EventLogData;
}

/** The TALQ LogReport body POSTed to the CMS. */
export interface LogReport {
  readonly address: string;
  readonly entries: readonly LogEntry[];
}

export interface LogEntries {
  readonly entries: LogEntry[];
  /** Readings of a TALQ device that no attribute of its class takes (an unknown metric, a level outside 0..100). */
  readonly unmapped: number;
}

const none: LogEntries = { entries: [], unmapped: 0 };

/**
 * The log entries one DEVICE_TELEMETRY event makes for the CMS, pure: a reading of a device with a TALQ binding gives
 * one entry per metric its class maps; presence gives the start or end of `communicationFailure`. Anything else
 * (heartbeats, commands, devices without a TALQ binding or of a class Vigil does not model) gives nothing.
 */
export function logEntriesOf(event: AnyEnvelope, device: KnownDevice | undefined): LogEntries {
  const talq = device?.state.profile.talq;
  const model = talq ? talqDeviceClass(talq.device_class) : undefined;
  if (!talq || !model) return none;
  if (isEventOf([TelemetryReported], event)) {
    const entries: LogEntry[] = [];
    let unmapped = 0;
    const at = event.data.measured_at;
    for (const [metric, value] of Object.entries(event.data.values)) {
      const found = attributeOfMetric(model, metric);
      const data = found ? entryData(`${talq.address}/${found.fn.id}`, found.attribute, value, at) : undefined;
      if (data) entries.push({ data });
      else unmapped += 1;
    }
    return { entries, unmapped };
  }
  if (isEventOf([DeviceWentOffline, DeviceCameOnline], event)) {
    const fn = model.functions.find((f) => f.attributes.some((a) => a.name === 'communicationFailure'));
    if (!fn) return none;
    const data: EventLogData = {
      type: 'EventLogData',
      srcAddress: `${talq.address}/${fn.id}`,
      timestamp: event.at,
      eventType: 'communicationFailure',
      startEndFlag: event.type === 'device.presence.offline',
    };
    return { entries: [{ data }], unmapped: 0 };
  }
  return none;
}

function entryData(srcAddress: string, attribute: TalqAttributeModel, value: number, timestamp: string): AttributeLogData | EventLogData | undefined {
  const attributeData = (attributeValue: unknown): AttributeLogData => ({
    type: 'AttributeLogData',
    srcAddress,
    timestamp,
    attributeName: attribute.name,
    attributeValue: { type: attribute.type, timestamp, value: attributeValue },
  });
  switch (attribute.type) {
    case 'AttributeBoolean':
      // An event-scope flag (lampFailure...): a reading of 1 starts the condition, 0 ends it.
      return { type: 'EventLogData', srcAddress, timestamp, eventType: attribute.name, startEndFlag: value !== 0 };
    case 'AttributeFloat':
      return attributeData(value);
    case 'AttributeInteger':
      return Number.isInteger(value) ? attributeData(value) : undefined;
    case 'AttributePercent': {
      const level = dimLevel(value);
      return level === undefined ? undefined : attributeData(level);
    }
    case 'AttributeLevelState': {
      const level = dimLevel(value);
      return level === undefined ? undefined : attributeData({ name: 'LevelState', value: level });
    }
    case 'AttributeCommand': {
      const level = dimLevel(value);
      return level === undefined ? undefined : attributeData({ state: { name: 'LevelState', value: level } });
    }
  }
}

/** TALQ DimLevel: a whole percentage, 0 to 100. A fractional level is rounded; one outside the range is refused. */
function dimLevel(value: number): number | undefined {
  const level = Math.round(value);
  return level >= 0 && level <= 100 ? level : undefined;
}
