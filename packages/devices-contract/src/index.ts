export { CertificateInvalidError, CredentialNotFoundError, DeviceDecommissionedError, DeviceNotFoundError, SerialTakenError } from './errors.ts';
export {
  CommandAccepted,
  CommandDone,
  CredentialIssuedResult,
  CredentialSpec,
  CredentialView,
  Decommission,
  DecommissionBody,
  DevicePage,
  DeviceRef,
  DeviceRegisteredResult,
  DeviceView,
  GetDevice,
  IssueCredential,
  ListDevices,
  ListDevicesParams,
  pageDefaults,
  Reading,
  ReadingsPage,
  ReadingsParams,
  ReadingsQuery,
  RegisterDevice,
  RevokeCredential,
  SendCommand,
  SendCommandBody,
  Series,
  SeriesBucket,
  SeriesParams,
  SeriesQuery,
} from './messages.ts';
export * from './parse.ts';
export { parseHeartbeatPayload, parseTalqAttributePayload, parseTelemetryPayload, type PayloadReading, type TalqAttributePayload, type TelemetryPayload } from './payloads.ts';
export {
  deviceAggregatesFilter,
  deviceCommandsFilter,
  deviceSubject,
  deviceSubjects,
  serialSubject,
  telemetrySubject,
  type TelemetryChannel,
} from './subjects.ts';
export { commandTopic, deviceTopicPrefix, parseDeviceTopic, type DeviceChannel, type DeviceTopic } from './topics.ts';
