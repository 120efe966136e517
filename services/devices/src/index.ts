export { DeviceDirectory, type AccessWithdrawn, type DeviceAuthentication, type KnownDevice } from './registry/device-directory.ts';
export { deviceDecider, type DeviceCommand, type DeviceState } from './registry/device.ts';
export { devicesService } from './service.ts';
export { RegistryWorker } from './registry/registry-worker.ts';
export { serialClaimDecider } from './registry/serial-claim.ts';
export { deviceMessageEvent, type DeviceMessageEvent, type MessageSource } from './ingest/device-message.ts';
export { DeviceBroker, type DeviceBrokerOptions, type MessageMapper } from './broker/device-broker.ts';
