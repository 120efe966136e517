import { isEventOf, type Decider, type EventDraft } from '@vigil/bus';
import { CredentialNotFoundError, DeviceDecommissionedError, DeviceNotFoundError } from '@vigil/devices-contract';
import {
  DeviceCredentialIssued,
  DeviceCredentialRevoked,
  DeviceDecommissioned,
  DeviceRegistered,
  type AnyEnvelope,
  type DataOf,
  type EventOf,
} from '@vigil/schemas';

export const deviceEvents = [DeviceRegistered, DeviceCredentialIssued, DeviceCredentialRevoked, DeviceDecommissioned] as const;
export type DeviceEvent = EventOf<(typeof deviceEvents)[number]>;
export const isDeviceEvent = (e: AnyEnvelope): e is DeviceEvent => isEventOf(deviceEvents, e);

export interface DeviceCredential {
  readonly credentialId: string;
  readonly kind: 'secret' | 'certificate';
  readonly sha256: string;
  readonly expiresAt?: Date;
}

/** One device as its registry events leave it. Revoked credentials are dropped: nothing may use them again. */
export interface RegisteredDevice {
  readonly status: 'active' | 'decommissioned';
  readonly deviceId: string;
  readonly profile: DataOf<typeof DeviceRegistered>;
  readonly credentials: readonly DeviceCredential[];
}
export type ActiveDevice = RegisteredDevice & { readonly status: 'active' };
export type DeviceState = { readonly status: 'unregistered' } | RegisteredDevice;

export type DeviceCommand =
  | { readonly kind: 'register'; readonly profile: DataOf<typeof DeviceRegistered> }
  | {
      readonly kind: 'issue_credential';
      readonly deviceId: string;
      readonly credential: DeviceCredential;
      readonly replaceExisting: boolean;
    }
  | { readonly kind: 'revoke_credential'; readonly deviceId: string; readonly credentialId: string; readonly reason: string }
  | { readonly kind: 'decommission'; readonly deviceId: string; readonly reason: string };

export function evolveDevice(state: DeviceState, event: DeviceEvent): DeviceState {
  switch (event.type) {
    case 'device.registered':
      return { status: 'active', deviceId: event.data.device_id, profile: event.data, credentials: [] };
    case 'device.credential.issued': {
      if (state.status === 'unregistered') return state;
      const { credential_id, kind, sha256, expires_at, replaces } = event.data;
      const kept = state.credentials.filter((c) => !replaces.includes(c.credentialId));
      const issued: DeviceCredential = { credentialId: credential_id, kind, sha256, ...(expires_at ? { expiresAt: new Date(expires_at) } : {}) };
      return { ...state, credentials: [...kept, issued] };
    }
    case 'device.credential.revoked':
      if (state.status === 'unregistered') return state;
      return { ...state, credentials: state.credentials.filter((c) => c.credentialId !== event.data.credential_id) };
    case 'device.decommissioned':
      if (state.status === 'unregistered') return state;
      return { ...state, status: 'decommissioned', credentials: [] };
  }
}

type Draft = EventDraft<DeviceEvent['type'], 1, DeviceEvent['data']>;

function activeDevice(state: DeviceState, deviceId: string): ActiveDevice {
  if (state.status === 'unregistered') throw new DeviceNotFoundError(deviceId);
  if (state.status === 'decommissioned') throw new DeviceDecommissionedError(deviceId);
  return { ...state, status: 'active' };
}

export function decideDevice(command: DeviceCommand, state: DeviceState): Draft[] {
  switch (command.kind) {
    case 'register':
      // The id is new for each registration, so a second registration of the same id is a retry: nothing to do.
      if (state.status !== 'unregistered') return [];
      return [{ type: 'device.registered', v: 1, data: command.profile }];
    case 'issue_credential': {
      const device = activeDevice(state, command.deviceId);
      const { credentialId, kind, sha256, expiresAt } = command.credential;
      if (device.credentials.some((c) => c.credentialId === credentialId)) return [];
      const replaces = command.replaceExisting ? device.credentials.map((c) => c.credentialId) : [];
      return [
        {
          type: 'device.credential.issued',
          v: 1,
          data: { credential_id: credentialId, kind, sha256, replaces, ...(expiresAt ? { expires_at: expiresAt.toISOString() } : {}) },
        },
      ];
    }
    case 'revoke_credential': {
      const device = activeDevice(state, command.deviceId);
      if (!device.credentials.some((c) => c.credentialId === command.credentialId)) throw new CredentialNotFoundError(command.deviceId, command.credentialId);
      return [{ type: 'device.credential.revoked', v: 1, data: { credential_id: command.credentialId, reason: command.reason } }];
    }
    case 'decommission': {
      if (state.status === 'decommissioned') return [];
      activeDevice(state, command.deviceId);
      return [{ type: 'device.decommissioned', v: 1, data: { reason: command.reason } }];
    }
  }
}

export const deviceDecider: Decider<DeviceCommand, DeviceState, DeviceEvent> = {
  events: deviceEvents,
  initialState: () => ({ status: 'unregistered' }),
  evolve: evolveDevice,
  decide: decideDevice,
};
