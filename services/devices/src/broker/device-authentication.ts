import type { DataOf, DeviceAuthenticationFailed } from '@vigil/schemas';
import type { DeviceAuthentication, KnownDevice } from '../registry/device-directory.ts';

export type Transport = DataOf<typeof DeviceAuthenticationFailed>['transport'];

/** Why a CONNECT is refused, as `audit.device.authentication_failed` records it. */
export type AuthenticationFailure = DataOf<typeof DeviceAuthenticationFailed>['reason'];

/** What a client presented in its CONNECT and its TLS handshake. */
export interface PresentedCredentials {
  readonly transport: Transport;
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Uint8Array | undefined;
  /** A TLS client certificate, when one was sent: whether it chains to the device CA, and its SHA-256 (hex of the DER). */
  readonly certificate: { readonly verified: boolean; readonly sha256: string } | undefined;
}

/** CONNACK return codes of MQTT 3.1.1 that a refusal uses. */
export const ConnackCode = { IdentifierRejected: 2, ServerUnavailable: 3, BadUsernameOrPassword: 4, NotAuthorized: 5 } as const;
export type RefusalCode = (typeof ConnackCode)[keyof typeof ConnackCode];

export type ConnectDecision =
  | { readonly ok: true; readonly device: KnownDevice; readonly credentialId: string; readonly method: 'secret' | 'certificate' }
  | { readonly ok: false; readonly reason: AuthenticationFailure; readonly returnCode: RefusalCode; readonly claimed: string };

/** The part of the device directory a login needs. */
export interface CredentialCheck {
  authenticateSecret(deviceId: string, secret: string, now?: Date): DeviceAuthentication;
  authenticateCertificate(deviceId: string, fingerprint: string, now?: Date): DeviceAuthentication;
}

/** Claimed ids are chosen by whoever connects: they are cut before they reach a log line or an audit record. */
const claimedLength = 64;
const decoder = new TextDecoder();

/**
 * Decides a CONNECT. The rule: the MQTT client id is the device id, and so is the username when one is given (a
 * device has one session, and a second connection takes it over). A TLS client certificate that chains to the
 * device CA logs in as the device it is registered to, without a password; a certificate that does not chain, or
 * is not that device's, is refused rather than ignored. Otherwise the password must be one of the device's secrets.
 * Every refusal answers "bad user name or password" except a client id that is not the device (identifier
 * rejected) and a certificate problem (not authorized), so that the answer never tells an unknown device from a
 * wrong secret.
 */
export function decideConnect(directory: CredentialCheck, presented: PresentedCredentials, now: Date = new Date()): ConnectDecision {
  const username = presented.username === '' ? undefined : presented.username;
  const claimed = (username ?? presented.clientId).slice(0, claimedLength);
  const refuse = (reason: AuthenticationFailure, returnCode: RefusalCode): ConnectDecision => ({ ok: false, reason, returnCode, claimed });
  if (presented.clientId === '' || (username !== undefined && username !== presented.clientId)) return refuse('client_id_mismatch', ConnackCode.IdentifierRejected);
  const deviceId = presented.clientId;
  if (presented.certificate) {
    if (!presented.certificate.verified) return refuse('certificate_mismatch', ConnackCode.NotAuthorized);
    return decided(directory.authenticateCertificate(deviceId, presented.certificate.sha256, now), 'certificate', refuse);
  }
  if (!presented.password || presented.password.length === 0) return refuse('no_credentials', ConnackCode.BadUsernameOrPassword);
  return decided(directory.authenticateSecret(deviceId, decoder.decode(presented.password), now), 'secret', refuse);
}

function decided(
  outcome: DeviceAuthentication,
  method: 'secret' | 'certificate',
  refuse: (reason: AuthenticationFailure, code: RefusalCode) => ConnectDecision,
): ConnectDecision {
  if (outcome.ok) return { ok: true, device: outcome.device, credentialId: outcome.credentialId, method };
  return refuse(outcome.reason, outcome.reason === 'certificate_mismatch' ? ConnackCode.NotAuthorized : ConnackCode.BadUsernameOrPassword);
}
