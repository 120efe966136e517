// The registry read model of one device, folded from its DEVICE_REGISTRY events: pure, so it is tested without a bus.
import { isEventOf } from '@vigil/bus';
import { DeviceCredentialIssued, DeviceCredentialRevoked, DeviceDecommissioned, DeviceRegistered, type AnyEnvelope } from '@vigil/schemas';
import type { schema } from '@vigil/store';

export type CredentialRecord = schema.DeviceCredentialRecord;

export interface DeviceRecord {
  readonly tenant: string;
  readonly deviceId: string;
  readonly name: string;
  readonly deviceType: string;
  readonly serial: string;
  readonly talq: { address: string; device_class: string } | null;
  readonly metadata: Record<string, string>;
  readonly status: 'active' | 'decommissioned';
  /** ISO 8601, the time of the registration event. */
  readonly registeredAt: string;
  readonly credentials: readonly CredentialRecord[];
  readonly lastSeq: number;
}

/** Where an event sits: the aggregate's subject tokens and the stream sequence. */
export interface RegistryPosition {
  readonly tenant: string;
  readonly deviceId: string;
  readonly seq: number;
}

const registryEvents = [DeviceRegistered, DeviceCredentialIssued, DeviceCredentialRevoked, DeviceDecommissioned] as const;

const revokedAt = (credential: CredentialRecord, at: string): CredentialRecord => (credential.revoked_at ? credential : { ...credential, revoked_at: at });

/**
 * Applies one registry event. Events before a registration (or for a device registered twice) change nothing: the
 * registry's own decider refuses them, so they can only come from a stream edited by hand.
 */
export function evolveDevice(record: DeviceRecord | undefined, event: AnyEnvelope, position: RegistryPosition): DeviceRecord | undefined {
  if (!isEventOf(registryEvents, event)) return record;
  if (event.type === 'device.registered') {
    if (record) return record;
    const d = event.data;
    return {
      tenant: position.tenant,
      deviceId: position.deviceId,
      name: d.name,
      deviceType: d.device_type,
      serial: d.serial,
      talq: d.talq ? { address: d.talq.address, device_class: d.talq.device_class } : null,
      metadata: { ...d.metadata },
      status: 'active',
      registeredAt: event.at,
      credentials: [],
      lastSeq: position.seq,
    };
  }
  if (!record) return record;
  const at = event.at;
  switch (event.type) {
    case 'device.credential.issued': {
      const d = event.data;
      const replaced = new Set(d.replaces);
      const kept = record.credentials.map((c) => (replaced.has(c.credential_id) ? revokedAt(c, at) : c));
      if (kept.some((c) => c.credential_id === d.credential_id)) return { ...record, credentials: kept, lastSeq: position.seq };
      const issued: CredentialRecord = { credential_id: d.credential_id, kind: d.kind, issued_at: at, ...(d.expires_at ? { expires_at: d.expires_at } : {}) };
      return { ...record, credentials: [...kept, issued], lastSeq: position.seq };
    }
    case 'device.credential.revoked':
      return {
        ...record,
        credentials: record.credentials.map((c) => (c.credential_id === event.data.credential_id ? revokedAt(c, at) : c)),
        lastSeq: position.seq,
      };
    case 'device.decommissioned':
      // Decommissioning ends every credential, so the view shows them revoked at that moment.
      return { ...record, status: 'decommissioned', credentials: record.credentials.map((c) => revokedAt(c, at)), lastSeq: position.seq };
  }
}

/** The device an aggregate subject `device.<tenant>.<device_id>` is about; serial claims and anything else: undefined. */
export function registrySubjectOf(subject: string): { tenant: string; deviceId: string } | undefined {
  const tokens = subject.split('.');
  if (tokens.length !== 3 || tokens[0] !== 'device') return undefined;
  const [, tenant = '', deviceId = ''] = tokens;
  return uuidPattern.test(deviceId) ? { tenant, deviceId: deviceId.toLowerCase() } : undefined;
}

/** Device ids are UUIDs (the column's type); lower case, so JavaScript and PostgreSQL agree on equality. */
export const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
