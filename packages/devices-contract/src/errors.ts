import { defineError } from '@vigil/bus';

/** Device answers that are not results; the edge maps each code to HTTP once. */
export const DeviceNotFoundError = defineError('VGL_DEVICE_NOT_FOUND', 'no device %s in this tenant', 404);
export const SerialTakenError = defineError('VGL_SERIAL_TAKEN', 'a device with serial %s is already registered in this tenant', 409);
export const DeviceDecommissionedError = defineError('VGL_DEVICE_DECOMMISSIONED', 'device %s is decommissioned', 409);
export const CredentialNotFoundError = defineError('VGL_CREDENTIAL_NOT_FOUND', 'device %s has no active credential %s', 404);
export const CertificateInvalidError = defineError('VGL_CERTIFICATE_INVALID', 'the certificate is not usable: %s', 400);
/** The tenant holds as many registered devices as its quota allows (`max_devices`, changed by a platform administrator). */
export const DeviceQuotaExceededError = defineError('VGL_DEVICE_QUOTA_EXCEEDED', 'the tenant has reached its quota of %s devices', 409);
/** A suspended tenant registers no device (its callers are refused at the edge first; this is the registry's own check). */
export const DeviceTenantSuspendedError = defineError('VGL_DEVICE_TENANT_SUSPENDED', 'tenant %s is suspended', 403);
/** The tenant's plan does not include devices (the edge refuses the route first; this is the registry's own check). */
export const DevicesNotInPlanError = defineError('VGL_DEVICES_NOT_IN_PLAN', 'the plan of tenant %s does not include devices', 403);
