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
export const BuiltInRoleName = Type.Union([
  Type.Literal('platform_admin'),
  Type.Literal('owner'),
  Type.Literal('admin'),
  Type.Literal('operator'),
  Type.Literal('auditor'),
  Type.Literal('viewer'),
]);
/** A built-in role, or one of the tenant's custom roles (lowercase, safe in logs and tokens). */
export const RoleName = Type.String({ pattern: '^[a-z][a-z0-9_]{2,39}$' });
const Roles = Type.Array(RoleName, { minItems: 1, maxItems: 16 });
/** What a plan or a tenant's own flags turn on; the identity contract says what each gates. */
const FeatureName = Type.String({ pattern: '^[a-z][a-z0-9_]{1,39}$' });
const Features = Type.Array(FeatureName, { maxItems: 32 });
const PlanName = Type.String({ pattern: '^[a-z][a-z0-9_]{1,39}$' });
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
    /** The plan. Absent on tenants made before plans, which keep every feature until a plan is set. */
    plan: Type.Optional(PlanName),
    /** The features the tenant has, as the plan gave them then: what every service enforces, whatever plans become. */
    features: Type.Optional(Features),
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
/**
 * A new plan, the features turned on or off for this tenant beyond it, and the features that gives (`features`, what
 * every service enforces). It takes effect at once on every edge (a route of a feature the tenant lacks answers 403),
 * at the MQTT broker, and on every creation from here on.
 */
export const TenantPlanChanged = defineEvent(
  StreamName.AuthEvent,
  'auth.tenant.plan_changed',
  1,
  object({ plan: PlanName, features_enabled: Features, features_disabled: Features, features: Features }),
);
export const SeatTaken = defineEvent(StreamName.AuthEvent, 'auth.tenant.seat_taken', 1, object({ user_id: Uuid }));
export const SeatReleased = defineEvent(StreamName.AuthEvent, 'auth.tenant.seat_released', 1, object({ user_id: Uuid }));
/** An API key holds a slot of its tenant's quota until it is revoked or expires (so the expiry travels with the slot). */
export const ApiKeySlotTaken = defineEvent(StreamName.AuthEvent, 'auth.tenant.api_key_slot_taken', 1, object({ key_id: Uuid, expires_at: Instant }));
export const ApiKeySlotReleased = defineEvent(StreamName.AuthEvent, 'auth.tenant.api_key_slot_released', 1, object({ key_id: Uuid }));

// Custom roles of a tenant, on `auth.<tenant>.roles.<tenant>`: one aggregate, so two definitions of one name settle
// by expected sequence. A deleted role's name is retired for good: a user still holding it (or an access token
// naming it) gains nothing, and never what a later role of the same name would grant.

export const CustomRoleDefined = defineEvent(
  StreamName.AuthEvent,
  'auth.roles.defined',
  1,
  object({ role: RoleName, permissions: Permissions, description: Type.String({ maxLength: 200 }) }),
);
export const CustomRoleChanged = defineEvent(
  StreamName.AuthEvent,
  'auth.roles.changed',
  1,
  object({ role: RoleName, permissions: Permissions, description: Type.String({ maxLength: 200 }) }),
);
export const CustomRoleDeleted = defineEvent(StreamName.AuthEvent, 'auth.roles.deleted', 1, object({ role: RoleName }));

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

// Invitation, on `auth.<tenant>.invitation.<invitation_id>`: issued once; of concurrent acceptances exactly one is
// appended (expected sequence), and a revocation or the expiry racing an acceptance is ordered with it on this subject.

/**
 * Someone is invited into the tenant with these roles. The token (`vgi_<tenant>_<id>_<secret>`, shown once to the
 * inviter) is kept as SHA-256 only; the e-mail address is sealed, and hashed as in UserCreated (salted with the tenant).
 * The envelope's actor is the inviter: the invitation carries their authority, checked again when it is accepted.
 */
export const InvitationIssued = defineEvent(
  StreamName.AuthEvent,
  'auth.invitation.issued',
  1,
  object({ invitation_id: Uuid, email_sha256: Sha256Hex, email: SealedValue, roles: Roles, expires_at: Instant, token_sha256: Sha256Hex }),
);
/**
 * The invitation is taken: the user `user_id` is made from it, with the invited e-mail address and roles and this
 * username and password (argon2id PHC, as in PasswordSet). Appended before the user is made and holding all that
 * making it needs, so a crash in between is finished from this event alone (making a user is idempotent for its id).
 */
export const InvitationAccepted = defineEvent(
  StreamName.AuthEvent,
  'auth.invitation.accepted',
  1,
  object({ user_id: Uuid, username: Username, password_hash: Type.String({ pattern: '^\\$argon2id\\$' }) }),
);
/** The accepted user could not be made after all (a name taken, the user quota full, the tenant suspended): pending again. */
export const InvitationReopened = defineEvent(
  StreamName.AuthEvent,
  'auth.invitation.reopened',
  1,
  object({ user_id: Uuid, reason: Type.Union([Type.Literal('name_taken'), Type.Literal('quota_exceeded'), Type.Literal('tenant_unavailable')]) }),
);
export const InvitationRevoked = defineEvent(StreamName.AuthEvent, 'auth.invitation.revoked', 1, object({}));

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
export const CustomRoleChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.custom_role_changed',
  1,
  object({
    category: Type.Literal('authorization'),
    severity: AuditSeverity,
    role: RoleName,
    change: Type.Union([Type.Literal('defined'), Type.Literal('changed'), Type.Literal('deleted')]),
    permissions: Type.Array(PermissionName, { maxItems: 32 }),
    api_keys_revoked: Type.Integer({ minimum: 0 }),
  }),
);
export const TenantPlanChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.tenant_plan_changed',
  1,
  object({
    category: Type.Literal('administration'),
    severity: AuditSeverity,
    tenant_id: TenantId,
    plan: PlanName,
    features: Features,
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
export const InvitationChangedAudit = defineEvent(
  StreamName.Audit,
  'audit.auth.invitation_changed',
  1,
  object({
    category: Type.Literal('administration'),
    severity: AuditSeverity,
    invitation_id: Uuid,
    change: Type.Union([Type.Literal('issued'), Type.Literal('accepted'), Type.Literal('revoked')]),
    roles: Roles,
    /** The user the acceptance made. */
    user_id: Type.Optional(Uuid),
    expires_at: Type.Optional(Instant),
  }),
);

export const authEvents: readonly EventDefinition[] = [
  TenantCreated,
  TenantSuspended,
  TenantReactivated,
  TenantQuotaChanged,
  TenantPlanChanged,
  CustomRoleDefined,
  CustomRoleChanged,
  CustomRoleDeleted,
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
  CustomRoleChangedAudit,
  TenantPlanChangedAudit,
  PasswordChangedAudit,
  TenantStatusChangedAudit,
  TenantQuotaChangedAudit,
  MfaChangedAudit,
  RecoveryCodeUsedAudit,
  UserDeletedAudit,
  UserRestoredAudit,
  InvitationIssued,
  InvitationAccepted,
  InvitationReopened,
  InvitationRevoked,
  InvitationChangedAudit,
];
