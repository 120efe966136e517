import { defineError } from '@vigil/bus';

/**
 * The KME's answers that are not keys, with the status ETSI GS QKD 014 gives them. The message is the ETSI error
 * `message` (the spec's own words where it prescribes them); `details` is its `details` array.
 */
export const KmeBadRequestError = defineError('KME_BAD_REQUEST', '%s', 400);
export const KmeUnauthorizedError = defineError('KME_UNAUTHORIZED', '%s', 401);
export const KmeUnavailableError = defineError('KME_UNAVAILABLE', '%s', 503);

/** The messages ETSI GS QKD 014 prescribes, word for word. */
export const etsiMessages = {
  sizeMultipleOf8: 'size shall be a multiple of 8',
  extensionMandatoryUnsupported: 'not all extension_mandatory parameters are supported',
  keysNotFound: 'one or more keys specified are not found on KME',
} as const;
