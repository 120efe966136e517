import Type from 'typebox';
import { defineEvent, type EventDefinition } from '../event-definition.ts';
import { StreamName } from '../stream-names.ts';
import { AuditSeverity } from './audit.ts';

// IoT devices. The registry is one aggregate per device on DEVICE_REGISTRY (`device.<tenant>.<device_id>`), with
// serial numbers claimed once per tenant on `device.<tenant>.serial.<sha256(serial)>`. What devices say (readings,
// heartbeats, presence, TALQ data) and what they are told (commands) goes to DEVICE_TELEMETRY on
// `telemetry.<tenant>.<device_id>.<channel>`. No event holds a device secret: credentials are SHA-256 only.

const Uuid = Type.String({ format: 'uuid' });
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Instant = Type.String({ format: 'date-time' });
const object = <P extends Parameters<typeof Type.Object>[0]>(properties: P) => Type.Object(properties, { additionalProperties: false });

/** A metric or attribute name: safe as a column value and in a URL. */
export const MetricName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' });
export const DeviceType = Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' });
/** Printable, no spaces at the ends; serials are not secret but are matched exactly. */
export const DeviceSerial = Type.String({ pattern: '^[\\x21-\\x7e]([\\x20-\\x7e]{0,126}[\\x21-\\x7e])?$' });
export const DeviceMetadata = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.String({ maxLength: 256 }), { maxProperties: 32 });
/** Where a TALQ CMS addresses the device (TALQ `address`, a URI) and its TALQ device class. */
export const TalqBinding = object({
  address: Type.String({ minLength: 1, maxLength: 256 }),
  device_class: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]{0,63}$' }),
});
export const CredentialKind = Type.Union([Type.Literal('secret'), Type.Literal('certificate')]);
/** Where a device's message came from: the embedded broker, or the uplink to an upstream platform. */
export const MessageSource = Type.Union([Type.Literal('mqtt'), Type.Literal('uplink')]);

// Registry, on `device.<tenant>.<device_id>`.

export const DeviceRegistered = defineEvent(
  StreamName.DeviceRegistry,
  'device.registered',
  1,
  object({
    device_id: Uuid,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    device_type: DeviceType,
    serial: DeviceSerial,
    talq: Type.Optional(TalqBinding),
    metadata: DeviceMetadata,
  }),
);

/**
 * A credential the device may authenticate with: a secret (MQTT password, stored as SHA-256: it is 256 random bits,
 * so a slow hash adds nothing) or a client certificate (its SHA-256 fingerprint). `replaces` are revoked by the same
 * event, so a rotation never leaves a moment with both or neither.
 */
export const DeviceCredentialIssued = defineEvent(
  StreamName.DeviceRegistry,
  'device.credential.issued',
  1,
  object({
    credential_id: Uuid,
    kind: CredentialKind,
    sha256: Sha256Hex,
    expires_at: Type.Optional(Instant),
    replaces: Type.Array(Uuid, { maxItems: 16 }),
  }),
);
export const DeviceCredentialRevoked = defineEvent(
  StreamName.DeviceRegistry,
  'device.credential.revoked',
  1,
  object({ credential_id: Uuid, reason: Type.String({ maxLength: 500 }) }),
);
/** The device is retired for good: every credential stops working and its serial may be registered again. */
export const DeviceDecommissioned = defineEvent(StreamName.DeviceRegistry, 'device.decommissioned', 1, object({ reason: Type.String({ maxLength: 500 }) }));

// Serial numbers, on `device.<tenant>.serial.<sha256(serial)>`: the first claim wins.

export const SerialClaimed = defineEvent(StreamName.DeviceRegistry, 'device.serial.claimed', 1, object({ device_id: Uuid }));
export const SerialReleased = defineEvent(StreamName.DeviceRegistry, 'device.serial.released', 1, object({ device_id: Uuid }));

// A tenant's device quota, on `device.<tenant>.quota.devices` (four tokens: outside the `device.*.*` of device
// aggregates): one slot per registered device, taken before it is registered and given back when it is decommissioned,
// each by an append with the expected sequence, so concurrent registrations never exceed the quota.

export const DeviceSlotTaken = defineEvent(StreamName.DeviceRegistry, 'device.quota.slot_taken', 1, object({ device_id: Uuid }));
export const DeviceSlotReleased = defineEvent(StreamName.DeviceRegistry, 'device.quota.slot_released', 1, object({ device_id: Uuid }));

// What devices say, on `telemetry.<tenant>.<device_id>.<channel>`.

/** Numeric readings measured at one time (the device's clock when it sent one, else the time Vigil received them). */
export const TelemetryReported = defineEvent(
  StreamName.DeviceTelemetry,
  'device.telemetry.reported',
  1,
  object({
    device_id: Uuid,
    measured_at: Instant,
    values: Type.Record(MetricName, Type.Number(), { minProperties: 1, maxProperties: 64 }),
    source: MessageSource,
  }),
);
/** Fundamentum's heartbeat: `{"uptime": seconds}`. */
export const HeartbeatReceived = defineEvent(
  StreamName.DeviceTelemetry,
  'device.heartbeat.received',
  1,
  object({ device_id: Uuid, uptime_s: Type.Number({ minimum: 0 }), source: MessageSource }),
);
export const DeviceCameOnline = defineEvent(
  StreamName.DeviceTelemetry,
  'device.presence.online',
  1,
  object({ device_id: Uuid, source: MessageSource, session: Type.String({ minLength: 1, maxLength: 128 }) }),
);
export const DeviceWentOffline = defineEvent(
  StreamName.DeviceTelemetry,
  'device.presence.offline',
  1,
  object({
    device_id: Uuid,
    source: MessageSource,
    session: Type.String({ minLength: 1, maxLength: 128 }),
    reason: Type.Union([
      Type.Literal('disconnected'),
      Type.Literal('connection_lost'),
      Type.Literal('heartbeat_missed'),
      Type.Literal('taken_over'),
      Type.Literal('credential_revoked'),
      Type.Literal('tenant_suspended'),
      /** The tenant's plan no longer includes devices. */
      Type.Literal('tenant_not_entitled'),
      Type.Literal('broker_stopped'),
    ]),
  }),
);

// What devices are told.

/** A command for a device, published to it on `v1/<tenant>/<device>/commands` by the broker it is connected to. */
export const DeviceCommandRequested = defineEvent(
  StreamName.DeviceTelemetry,
  'device.command.requested',
  1,
  object({
    device_id: Uuid,
    command_id: Uuid,
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' }),
    parameters: Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]), { maxProperties: 32 }),
    origin: Type.Union([Type.Literal('api'), Type.Literal('talq')]),
  }),
);

// Device access on AUDIT (`audit.<tenant>.device_access`): the broker's refusals. Secrets are never copied.

export const DeviceAuthenticationFailed = defineEvent(
  StreamName.Audit,
  'audit.device.authentication_failed',
  1,
  object({
    category: Type.Literal('device_access'),
    severity: AuditSeverity,
    /** What the client claimed to be (its username), cut short: an attacker chooses it. */
    claimed_device: Type.String({ maxLength: 64 }),
    reason: Type.Union([
      Type.Literal('unknown_device'),
      Type.Literal('wrong_secret'),
      Type.Literal('no_credentials'),
      Type.Literal('decommissioned'),
      Type.Literal('certificate_mismatch'),
      Type.Literal('client_id_mismatch'),
      Type.Literal('tenant_suspended'),
      Type.Literal('tenant_not_entitled'),
    ]),
    transport: Type.Union([Type.Literal('tcp'), Type.Literal('tls'), Type.Literal('ws')]),
  }),
);
export const DeviceAccessDenied = defineEvent(
  StreamName.Audit,
  'audit.device.access_denied',
  1,
  object({
    category: Type.Literal('device_access'),
    severity: AuditSeverity,
    device_id: Uuid,
    action: Type.Union([Type.Literal('publish'), Type.Literal('subscribe')]),
    topic: Type.String({ maxLength: 256 }),
    reason: Type.Union([Type.Literal('topic_not_allowed'), Type.Literal('payload_too_large'), Type.Literal('malformed_payload'), Type.Literal('rate_limited')]),
  }),
);

export const deviceRegistryEvents: readonly EventDefinition[] = [
  DeviceRegistered,
  DeviceCredentialIssued,
  DeviceCredentialRevoked,
  DeviceDecommissioned,
  SerialClaimed,
  SerialReleased,
  DeviceSlotTaken,
  DeviceSlotReleased,
];
export const deviceTelemetryEvents: readonly EventDefinition[] = [TelemetryReported, HeartbeatReceived, DeviceCameOnline, DeviceWentOffline, DeviceCommandRequested];
export const deviceAuditEvents: readonly EventDefinition[] = [DeviceAuthenticationFailed, DeviceAccessDenied];
