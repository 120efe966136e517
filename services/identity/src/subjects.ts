import { sha256Hex } from '@vigil/crypto';

// Aggregate subjects on AUTH_EVENT: `auth.<tenant>.<aggregate>.<id>`. Personal data (a username, an e-mail address)
// stands in a subject only as SHA-256 of its normalized form, salted with the tenant.

export function userSubject(tenant: string, userId: string): string {
  return `auth.${tenant}.user.${userId}`;
}

export function invitationSubject(tenant: string, invitationId: string): string {
  return `auth.${tenant}.invitation.${invitationId}`;
}

export type NameKind = 'username' | 'email';

export function normalizeName(value: string): string {
  return value.trim().normalize('NFC').toLowerCase();
}

/** The hash a username or e-mail address is known by in subjects and audit records. */
export function nameHash(tenant: string, kind: NameKind, value: string): string {
  return sha256Hex(`${tenant}:${kind}:${normalizeName(value)}`);
}

export function claimSubject(tenant: string, kind: NameKind, value: string): string {
  return `auth.${tenant}.${kind}.${nameHash(tenant, kind, value)}`;
}
