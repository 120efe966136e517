import Type from 'typebox';
import { TenantId } from '../envelope.ts';
import { defineEvent, type EventDefinition } from '../event-definition.ts';
import { StreamName } from '../stream-names.ts';
import { AuditSeverity } from './audit.ts';

// Identity and access on AUTH_EVENT, one aggregate per subject `auth.<tenant>.<aggregate>.<id>`. Nothing here holds
// a password, token, TOTP secret or e-mail address in clear: passwords as argon2id PHC strings, tokens as SHA-256,
// secrets and e-mail addresses sealed (AES-256-GCM under the identity KEK), e-mail in subjects as SHA-256.

const Uuid = Type.String({ format: 'uuid' });
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Instant = Type.String({ format: 'date-time' });
/** Lowercase, no `@` (so a username is never an e-mail address), safe in logs. */
export const Username = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{2,63}$' });
export const RoleName = Type.Union([
  Type.Literal('platform_admin'),
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('operator'),
  Type.Literal('auditor'),
  Type.Literal('viewer'),
]);
const Roles = Type.Array(RoleName, { minItems: 1, maxItems: 6 });
/** A permission as `resource:action`; which ones exist is the identity contract's business (it may add more). */
const PermissionName = Type.String({ pattern: '^[a-z_]+:[a-z_]+$', maxLength: 64 });
const Permissions = Type.Array(PermissionName, { minItems: 1, maxItems: 32 });
/** Sealed bytes (nonce ‖ ciphertext ‖ tag, base64) and the KEK that opens them. */
const SealedValue = Type.Object({ kek_id: Type.String({ minLength: 1 }), sealed: Type.String({ contentEncoding: 'base64' }) }, { additionalProperties: false });

const object = <P extends Parameters<typeof Type.Object>[0]>(properties: P) => Type.Object(properties, { additionalProperties: false });

// Tenant, on `auth.<tenant>.tenant.<tenant>`: seats settle the user quota, API key slots the API key quota, both by
// expected sequence.

export const TenantCreated = defineEvent(
  StreamName.AuthEvent,
  'auth.tenant.created',
  1,
  object({
    tenant_id: TenantId,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    max_users: Type.Integer({ minimum: 1 }),
    /** Absent on tenants made before API keys: the deployment's default quota applies. */
    max_api_keys: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Devices registered at once. Absent on tenants made before device quotas: no quota until one is set. */
    max_devices: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
);
/** No sign-in, refresh or request of the tenant's is accepted from here on; its sessions end (see TenantReactivated). */
export const TenantSuspended = defineEvent(StreamName.AuthEvent, 'auth.tenant.suspended', 1, object({ reason: Type.String({ maxLength: 500 }) }));
/** Sign-ins work again; sessions started before this event stay ended (their refresh is refused). API keys work again. */
export const TenantReactivated = defineEvent(StreamName.AuthEvent, 'auth.tenant.reactivated', 1, object({}));
/** New quotas, each counting from the next creation: what holds a seat or a slot already keeps it. */
export const TenantQuotaChanged = defineEvent(
  StreamName.AuthEvent,
  'auth.tenant.quota_changed',
  1,
  object({
    max_users: Type.Optional(Type.Integer({ minimum: 1 })),
    max_api_keys: Type.Optional(Type.Integer({ minimum: 0 })),
    max_devices: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
);
export const SeatTaken = defineEvent(StreamName.AuthEvent, 'auth.tenant.seat_taken', 1, object({ user_id: Uuid }));
export const SeatReleased = defineEvent(StreamName.AuthEvent, 'auth.tenant.seat_released', 1, object({ user_id: Uuid }));
/** An API key holds a slot of its tenant's quota until it is revoked or expires (so the expiry travels with the slot). */
export const ApiKeySlotTaken = defineEvent(StreamName.AuthEvent, 'auth.tenant.api_key_slot_taken', 1, object({ key_id: Uuid, expires_at: Instant }));
export const ApiKeySlotReleased = defineEvent(StreamName.AuthEvent, 'auth.tenant.api_key_slot_released', 1, object({ key_id: Uuid }));

// Unique names, on `auth.<tenant>.username.<sha256>` and `auth.<tenant>.email.<sha256>`: the first append wins.

export const NameClaimed = defineEvent(StreamName.AuthEvent, 'auth.claim.taken', 1, object({ user_id: Uuid }));
export const NameReleased = defineEvent(StreamName.AuthEvent, 'auth.claim.released', 1, object({ user_id: Uuid }));

// User and credentials, on `auth.<tenant>.user.<user_id>`: failed attempts are counted here, exactly.

export const UserCreated = defineEvent(
  StreamName.AuthEvent,
  'auth.user.created',
  1,
  object({ user_id: Uuid, username: Username, email_sha256: Sha256Hex, email: SealedValue, roles: Roles }),
);
export const PasswordSet = defineEvent(
  StreamName.AuthEvent,
  'auth.user.password_set',
  1,
  object({ password_hash: Type.String({ pattern: '^\\$argon2id\\$' }), by: Type.Union([Type.Literal('self'), Type.Literal('admin')]) }),
);
export const UserDisabled = defineEvent(StreamName.AuthEvent, 'auth.user.disabled', 1, object({ reason: Type.String({ maxLength: 500 }) }));
/** Soft delete: the user is gone from sign-in and administration, their seat is free; the names stay theirs. */
export const UserDeleted = defineEvent(StreamName.AuthEvent, 'auth.user.deleted', 1, object({ reason: Type.String({ maxLength: 500 }) }));
/** The deleted user is back, with no session: they sign in again. */
export const UserRestored = defineEvent(StreamName.AuthEvent, 'auth.user.restored', 1, object({}));
/**
 * A failed attempt, counted toward a lockout per factor. The attempt that reaches the threshold carries the lock in
 * the same event, so the count and the lock are one append: under concurrent attempts the lock comes at exactly
 * the threshold, never one later.
 */
export const LoginFailed = defineEvent(
  StreamName.AuthEvent,
  'auth.user.login_failed',
  1,
  object({
    factor: Type.Union([Type.Literal('password'), Type.Literal('totp')]),
    reason: Type.Union([Type.Literal('wrong'), Type.Literal('replayed')]),
    locked_until: Type.Optional(Instant),
  }),
);
/**
 * A login completed: consecutive failures start again from zero; with TOTP, its time step is spent in the same event,
 * and so is a recovery code used instead (one event, so a code is spent exactly when it signs someone in).
 */
export const LoggedIn = defineEvent(
  StreamName.AuthEvent,
  'auth.user.logged_in',
  1,
  object({
    session_id: Uuid,
    expires_at: Instant,
    mfa: Type.Boolean(),
    totp_step: Type.Optional(Type.Integer({ minimum: 0 })),
    recovery_code_sha256: Type.Optional(Sha256Hex),
  }),
);
export const SessionEnded = defineEvent(StreamName.AuthEvent, 'auth.user.session_ended', 1, object({ session_id: Uuid }));
export const MfaEnrolled = defineEvent(StreamName.AuthEvent, 'auth.user.mfa_enrolled', 1, object({ enrollment_id: Uuid, secret: SealedValue }));
/** Recovery codes as SHA-256 of `identity.recovery:<tenant>:<user>:<code>` (80 random bits each): never in clear. */
const RecoveryCodeHashes = Type.Array(Sha256Hex, { minItems: 1, maxItems: 20, uniqueItems: true });
/** TOTP is on; the recovery codes shown once at this moment are issued in the same event. */
export const MfaConfirmed = defineEvent(
  StreamName.AuthEvent,
  'auth.user.mfa_confirmed',
  1,
  object({ enrollment_id: Uuid, step: Type.Integer({ minimum: 0 }), recovery_codes_sha256: Type.Optional(RecoveryCodeHashes) }),
);
/** New recovery codes replace every earlier one, after re-authentication (its TOTP step, if one was used, spent here). */
export const RecoveryCodesGenerated = defineEvent(
  StreamName.AuthEvent,
  'auth.user.recovery_codes_generated',
  1,
  object({ codes_sha256: RecoveryCodeHashes, totp_step: Type.Optional(Type.Integer({ minimum: 0 })) }),
);
/** TOTP is off, after re-authentication; the secret and the recovery codes go with it. */
export const MfaDisabled = defineEvent(StreamName.AuthEvent, 'auth.user.mfa_disabled', 1, object({ totp_step: Type.Optional(Type.Integer({ minimum: 0 })) }));
/** An administrator ended a lock (and the count of failures) before its time. */
export const UserUnlocked = defineEvent(StreamName.AuthEvent, 'auth.user.unlocked', 1, object({}));
export const RoleAssigned = defineEvent(StreamName.AuthEvent, 'auth.user.role_assigned', 1, object({ role: RoleName }));
export const RoleRevoked = defineEvent(StreamName.AuthEvent, 'auth.user.role_revoked', 1, object({ role: RoleName }));
/**
 * The user issued an API key with these permissions. Decided on the user's subject, so it is ordered against a
 * disable or a role change of the same user: either it comes first and they revoke the key, or it is refused.
 */
export const ApiKeyIssued = defineEvent(StreamName.AuthEvent, 'auth.user.api_key_issued', 1, object({ key_id: Uuid, permissions: Permissions, expires_at: Instant }));
// Session, on `auth.<tenant>.session.<session_id>`: refresh rotation is settled by expected sequence.

const RevocationReason = Type.Union([
  Type.Literal('logout'),
  Type.Literal('refresh_reuse'),
  Type.Literal('idle_timeout'),
  Type.Literal('expired'),
  Type.Literal('session_limit'),
  Type.Literal('user_disabled'),
  Type.Literal('revoked'),
  Type.Literal('roles_changed'),
  Type.Literal('password_changed'),
  Type.Literal('user_deleted'),
  /** Found at a refresh after the tenant was suspended and reactivated: sessions do not outlive a suspension. */
  Type.Literal('tenant_suspended'),
]);
export const SessionStarted = defineEvent(
  StreamName.AuthEvent,
  'auth.session.started',
  1,
  object({ user_id: Uuid, roles: Roles, refresh_sha256: Sha256Hex, expires_at: Instant, mfa: Type.Boolean() }),
);
export const SessionRefreshed = defineEvent(StreamName.AuthEvent, 'auth.session.refreshed', 1, object({ refresh_sha256: Sha256Hex }));
export const SessionRevoked = defineEvent(StreamName.AuthEvent, 'auth.session.revoked', 1, object({ reason: RevocationReason }));

// API key, on `auth.<tenant>.apikey.<key_id>`: every edge follows these to authenticate keys without a database.

export const ApiKeyRevocationReason = Type.Union([
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('user_disabled'),
  Type.Literal('permissions_reduced'),
  Type.Literal('user_deleted'),
]);
export const ApiKeyCreated = defineEvent(
  StreamName.AuthEvent,
  'auth.apikey.created',
  1,
  object({
    key_id: Uuid,
    /** The user who made it: the key acts for them, with at most their permissions. */
    user_id: Uuid,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    permissions: Permissions,
    expires_at: Instant,
    rate_limit_per_minute: Type.Integer({ minimum: 1 }),
    /** SHA-256 of the whole key as shown once (`vgl_<id>_<secret>`); the key itself is never stored. */
    secret_sha256: Sha256Hex,
  }),
);
/** Also appended to a key that does not exist yet, when its user is disabled while the key is being made. */
export const ApiKeyRevoked = defineEvent(StreamName.AuthEvent, 'auth.apikey.revoked', 1, object({ reason: ApiKeyRevocationReason }));

// Security events on AUDIT, `audit.<tenant>.authentication` and `audit.<tenant>.authorization`.

/** A recovery code is a second factor like TOTP: its failures count with TOTP's toward the lockout. */
const Factor = Type.Union([Type.Literal('password'), Type.Literal('totp'), Type.Literal('recovery_code')]);
export const LoginSucceededAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.login_succeeded',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid, session_id: Uuid, mfa: Type.Boolean() }),
);
export const LoginFailedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.login_failed',
  1,
  object({
    category: Type.Literal('authentication'),
    severity: AuditSeverity,
    /** Absent when no such user exists; the username is then only hashed. */
    user_id: Type.Optional(Uuid),
    username_sha256: Sha256Hex,
    factor: Factor,
    reason: Type.Union([Type.Literal('wrong'), Type.Literal('replayed'), Type.Literal('locked'), Type.Literal('disabled'), Type.Literal('unknown_user')]),
  }),
);
export const AccountLockedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.account_locked',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid, until: Instant, failures: Type.Integer({ minimum: 1 }), factor: Factor }),
);
export const RefreshReuseAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.refresh_reuse_detected',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid, session_id: Uuid }),
);
export const SessionRevokedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.session_revoked',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid, session_id: Uuid, reason: RevocationReason }),
);
export const AccessDeniedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.access_denied',
  1,
  object({
    category: Type.Literal('authorization'),
    severity: AuditSeverity,
    user_id: Type.String({ minLength: 1, maxLength: 200 }),
    /** Present when the caller authenticated with an API key (of user_id). */
    api_key_id: Type.Optional(Uuid),
    permission: Type.String({ maxLength: 100 }),
    route: Type.String({ maxLength: 300 }),
  }),
);
export const ApiKeyCreatedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.api_key_created',
  1,
  object({ category: Type.Literal('administration'), severity: AuditSeverity, user_id: Uuid, key_id: Uuid, permissions: Permissions, expires_at: Instant }),
);
export const ApiKeyRevokedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.api_key_revoked',
  1,
  object({ category: Type.Literal('administration'), severity: AuditSeverity, user_id: Uuid, key_id: Uuid, reason: ApiKeyRevocationReason }),
);
export const UserDisabledAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.user_disabled',
  1,
  object({
    category: Type.Literal('administration'),
    severity: AuditSeverity,
    user_id: Uuid,
    sessions_ended: Type.Integer({ minimum: 0 }),
    api_keys_revoked: Type.Integer({ minimum: 0 }),
  }),
);
export const AccountUnlockedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.account_unlocked',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid }),
);
export const RoleChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.role_changed',
  1,
  object({
    category: Type.Literal('authorization'),
    severity: AuditSeverity,
    user_id: Uuid,
    role: RoleName,
    change: Type.Union([Type.Literal('assigned'), Type.Literal('revoked')]),
    sessions_ended: Type.Integer({ minimum: 0 }),
    api_keys_revoked: Type.Integer({ minimum: 0 }),
  }),
);
export const PasswordChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.password_changed',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid, sessions_ended: Type.Integer({ minimum: 0 }) }),
);

export const TenantStatusChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.tenant_status_changed',
  1,
  object({
    category: Type.Literal('administration'),
    severity: AuditSeverity,
    tenant_id: TenantId,
    status: Type.Union([Type.Literal('suspended'), Type.Literal('active')]),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  }),
);
export const TenantQuotaChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.tenant_quota_changed',
  1,
  object({
    category: Type.Literal('administration'),
    severity: AuditSeverity,
    tenant_id: TenantId,
    max_users: Type.Optional(Type.Integer({ minimum: 1 })),
    max_api_keys: Type.Optional(Type.Integer({ minimum: 0 })),
    max_devices: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
);
export const MfaChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.mfa_changed',
  1,
  object({
    category: Type.Literal('authentication'),
    severity: AuditSeverity,
    user_id: Uuid,
    change: Type.Union([Type.Literal('enabled'), Type.Literal('disabled'), Type.Literal('recovery_codes_regenerated')]),
  }),
);
export const RecoveryCodeUsedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.recovery_code_used',
  1,
  object({ category: Type.Literal('authentication'), severity: AuditSeverity, user_id: Uuid, session_id: Uuid, remaining: Type.Integer({ minimum: 0 }) }),
);
export const UserDeletedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.user_deleted',
  1,
  object({
    category: Type.Literal('administration'),
    severity: AuditSeverity,
    user_id: Uuid,
    sessions_ended: Type.Integer({ minimum: 0 }),
    api_keys_revoked: Type.Integer({ minimum: 0 }),
  }),
);
export const UserRestoredAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.user_restored',
  1,
  object({ category: Type.Literal('administration'), severity: AuditSeverity, user_id: Uuid }),
);

export const authEvents: readonly EventDefinition[] = [
  TenantCreated,
  TenantSuspended,
  TenantReactivated,
  TenantQuotaChanged,
  SeatTaken,
  SeatReleased,
  ApiKeySlotTaken,
  ApiKeySlotReleased,
  NameClaimed,
  NameReleased,
  UserCreated,
  PasswordSet,
  UserDisabled,
  UserDeleted,
  UserRestored,
  LoginFailed,
  LoggedIn,
  SessionEnded,
  MfaEnrolled,
  MfaConfirmed,
  RecoveryCodesGenerated,
  MfaDisabled,
  UserUnlocked,
  RoleAssigned,
  RoleRevoked,
  ApiKeyIssued,
  SessionStarted,
  SessionRefreshed,
  SessionRevoked,
  ApiKeyCreated,
  ApiKeyRevoked,
  LoginSucceededAudit,
  LoginFailedAudit,
  AccountLockedAudit,
  RefreshReuseAudit,
  SessionRevokedAudit,
  AccessDeniedAudit,
  ApiKeyCreatedAudit,
  ApiKeyRevokedAudit,
  UserDisabledAudit,
  AccountUnlockedAudit,
  RoleChangedAudit,
  PasswordChangedAudit,
  TenantStatusChangedAudit,
  TenantQuotaChangedAudit,
  MfaChangedAudit,
  RecoveryCodeUsedAudit,
  UserDeletedAudit,
  UserRestoredAudit,
];
