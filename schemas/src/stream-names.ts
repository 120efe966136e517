/**
 * The JetStream streams of DESIGN.md, named once. Their subjects and limits live in `@vigil/bus`;
 * events name the stream they are appended to.
 */
export const StreamName = {
  KeySupply: 'KEY_SUPPLY',
  KeyRequest: 'KEY_REQUEST',
  AuthEvent: 'AUTH_EVENT',
  DeviceTelemetry: 'DEVICE_TELEMETRY',
  DeviceRegistry: 'DEVICE_REGISTRY',
  Audit: 'AUDIT',
} as const;
export type StreamName = (typeof StreamName)[keyof typeof StreamName];
