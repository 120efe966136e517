import { sha256Hex } from '@vigil/crypto';

/** Bus subjects between the edge and the device workers (commands) and the telemetry projection (queries). */
export const deviceSubjects = {
  register: 'cmd.devices.register',
  issueCredential: 'cmd.devices.issue_credential',
  revokeCredential: 'cmd.devices.revoke_credential',
  decommission: 'cmd.devices.decommission',
  sendCommand: 'cmd.devices.send_command',
  list: 'qry.devices.list',
  get: 'qry.devices.get',
  readings: 'qry.telemetry.readings',
  series: 'qry.telemetry.series',
} as const;

/** Channels a device's messages travel on, as the last token of `telemetry.<tenant>.<device>.<channel>`. */
export type TelemetryChannel = 'reading' | 'heartbeat' | 'presence' | 'command' | 'talq';

/** The registry aggregate of one device. */
export function deviceSubject(tenant: string, deviceId: string): string {
  return `device.${tenant}.${deviceId}`;
}

/** The claim on a serial number in a tenant: serials may hold any printable character, so the subject has its hash. */
export function serialSubject(tenant: string, serial: string): string {
  return `device.${tenant}.serial.${sha256Hex(serial)}`;
}

/** Every device aggregate (not serial claims): what in-memory registries follow. */
export const deviceAggregatesFilter = 'device.*.*';

export function telemetrySubject(tenant: string, deviceId: string, channel: TelemetryChannel): string {
  return `telemetry.${tenant}.${deviceId}.${channel}`;
}

/** Every command for every device: what brokers follow to deliver commands to the devices connected to them. */
export const deviceCommandsFilter = 'telemetry.*.*.command';
