import { DeviceMetadata, DeviceSerial, DeviceType, MetricName, TalqBinding } from '@vigil/schemas';
import Type, { type Static } from 'typebox';

const Uuid = Type.String({ format: 'uuid' });
const Instant = Type.String({ format: 'date-time' });
const obj = <P extends Parameters<typeof Type.Object>[0]>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

/** Page sizes when a query names none (the edge validates, it does not fill in defaults). */
export const pageDefaults = { devices: 100, readings: 1000 } as const;

/** Optional read-your-writes: a query waits (briefly) until its projection has applied this stream sequence. */
const MinSeq = Type.Optional(Type.Integer({ minimum: 0, description: 'Wait until the read model has applied this stream sequence.' }));

// Registry commands (the tenant and actor always come from the caller, never from the body).

export const RegisterDevice = obj({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  device_type: DeviceType,
  serial: DeviceSerial,
  talq: Type.Optional(TalqBinding),
  metadata: Type.Optional(DeviceMetadata),
});
export type RegisterDevice = Static<typeof RegisterDevice>;

export const DeviceRef = obj({ device_id: Uuid });
export type DeviceRef = Static<typeof DeviceRef>;

export const DeviceRegisteredResult = obj({ device_id: Uuid, seq: Type.Integer({ minimum: 1 }) }, 'The device is registered; issue it a credential next.');
export type DeviceRegisteredResult = Static<typeof DeviceRegisteredResult>;

/** A new credential; with `replace_existing`, every other credential of the device is revoked by the same event. */
export const CredentialSpec = Type.Union([
  obj({ kind: Type.Literal('secret'), replace_existing: Type.Optional(Type.Boolean()), expires_at: Type.Optional(Instant) }),
  obj({
    kind: Type.Literal('certificate'),
    certificate_pem: Type.String({ minLength: 64, maxLength: 16384, description: 'The device client certificate (PEM), made with `vigil pki`.' }),
    replace_existing: Type.Optional(Type.Boolean()),
  }),
]);
export type CredentialSpec = Static<typeof CredentialSpec>;

export const IssueCredential = obj({ device_id: Uuid, credential: CredentialSpec });
export type IssueCredential = Static<typeof IssueCredential>;

export const CredentialIssuedResult = obj(
  {
    device_id: Uuid,
    credential_id: Uuid,
    kind: Type.Union([Type.Literal('secret'), Type.Literal('certificate')]),
    secret: Type.Optional(Type.String({ description: 'Shown once: the MQTT password. Vigil keeps only its SHA-256.' })),
    expires_at: Type.Optional(Instant),
    replaced_others: Type.Boolean({ description: 'Every other credential of the device was revoked by the same event.' }),
    seq: Type.Integer({ minimum: 1 }),
  },
  'A device credential; the MQTT username is the device id.',
);
export type CredentialIssuedResult = Static<typeof CredentialIssuedResult>;

export const RevokeCredential = obj({ device_id: Uuid, credential_id: Uuid, reason: Type.Optional(Type.String({ maxLength: 500 })) });
export type RevokeCredential = Static<typeof RevokeCredential>;

const decommissionFields = { reason: Type.Optional(Type.String({ maxLength: 500 })) };
export const DecommissionBody = obj(decommissionFields);
export const Decommission = obj({ device_id: Uuid, ...decommissionFields });
export type Decommission = Static<typeof Decommission>;

const sendCommandFields = {
  name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' }),
  parameters: Type.Optional(
    Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()]), { maxProperties: 32 }),
  ),
};
export const SendCommandBody = obj(sendCommandFields);
export const SendCommand = obj({ device_id: Uuid, ...sendCommandFields });
export type SendCommand = Static<typeof SendCommand>;

export const CommandAccepted = obj({ command_id: Uuid, seq: Type.Integer({ minimum: 1 }) }, 'Recorded; delivered to the device by the broker it is connected to.');
export type CommandAccepted = Static<typeof CommandAccepted>;

export const CommandDone = obj({ seq: Type.Integer({ minimum: 1 }) });
export type CommandDone = Static<typeof CommandDone>;

// Read models (served from Postgres by the telemetry service).

export const CredentialView = obj({
  credential_id: Uuid,
  kind: Type.Union([Type.Literal('secret'), Type.Literal('certificate')]),
  issued_at: Instant,
  expires_at: Type.Optional(Instant),
  revoked_at: Type.Optional(Instant),
});

export const DeviceView = obj({
  device_id: Uuid,
  name: Type.String(),
  device_type: Type.String(),
  serial: Type.String(),
  talq: Type.Optional(TalqBinding),
  metadata: DeviceMetadata,
  status: Type.Union([Type.Literal('active'), Type.Literal('decommissioned')]),
  registered_at: Instant,
  credentials: Type.Array(CredentialView),
  online: Type.Boolean(),
  last_seen_at: Type.Optional(Instant),
  last_uptime_s: Type.Optional(Type.Number()),
});
export type DeviceView = Static<typeof DeviceView>;

export const GetDevice = obj({ device_id: Uuid, min_seq: MinSeq });
export type GetDevice = Static<typeof GetDevice>;

const listFields = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: pageDefaults.devices })),
  /** Keyset cursor: the last device id of the previous page. */
  after: Type.Optional(Uuid),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('decommissioned')])),
};
export const ListDevicesParams = obj(listFields);
export const ListDevices = obj({ ...listFields, min_seq: MinSeq });
export type ListDevices = Static<typeof ListDevices>;

export const DevicePage = obj({ devices: Type.Array(DeviceView), next: Type.Optional(Uuid) });
export type DevicePage = Static<typeof DevicePage>;

const readingsFields = {
  metric: Type.Optional(MetricName),
  from: Instant,
  to: Instant,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: pageDefaults.readings })),
  /** Keyset cursor returned as `next` by the previous page. */
  after: Type.Optional(Type.String({ maxLength: 200 })),
};
export const ReadingsParams = obj(readingsFields);
export const ReadingsQuery = obj({ device_id: Uuid, ...readingsFields, min_seq: MinSeq });
export type ReadingsQuery = Static<typeof ReadingsQuery>;

export const Reading = obj({ measured_at: Instant, metric: Type.String(), value: Type.Number() });
export const ReadingsPage = obj({ readings: Type.Array(Reading), next: Type.Optional(Type.String()) });
export type ReadingsPage = Static<typeof ReadingsPage>;

const seriesFields = {
  metric: MetricName,
  from: Instant,
  to: Instant,
  /** Bucket width in seconds; buckets are aligned to the Unix epoch, so both storage paths give the same buckets. */
  bucket_s: Type.Integer({ minimum: 1, maximum: 31 * 86400 }),
};
export const SeriesParams = obj(seriesFields);
export const SeriesQuery = obj({ device_id: Uuid, ...seriesFields, min_seq: MinSeq });
export type SeriesQuery = Static<typeof SeriesQuery>;

export const SeriesBucket = obj({ start: Instant, avg: Type.Number(), min: Type.Number(), max: Type.Number(), count: Type.Integer({ minimum: 1 }) });
export const Series = obj({ metric: Type.String(), bucket_s: Type.Integer(), buckets: Type.Array(SeriesBucket) });
export type Series = Static<typeof Series>;
