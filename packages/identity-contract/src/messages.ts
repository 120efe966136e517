import { RoleName, TenantId, Username } from '@vigil/schemas';
import Type, { type Static } from 'typebox';
import { featureNames, planNames } from './features.ts';
import { invitationDefaultLifetimeSeconds, invitationMaxLifetimeSeconds } from './invitation.ts';
import { permissionNames } from './permissions.ts';

const Uuid = Type.String({ format: 'uuid' });
/** ASVS: at least 64 characters allowed; 128 bounds the hashing work one request may ask for. */
const Password = Type.String({ minLength: 1, maxLength: 128 });
const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
const TotpCode = Type.String({ pattern: '^[0-9]{6}$' });
/** A recovery code as shown: 16 base32 characters in groups of four (80 random bits); case and hyphens do not matter. */
const RecoveryCode = Type.String({ pattern: '^[A-Za-z2-7]{4}(-?[A-Za-z2-7]{4}){3}$', description: 'One of my recovery codes, e.g. `abcd-efgh-ijkl-mnop`. Each works once.' });
const Roles = Type.Array(RoleName, { minItems: 1, maxItems: 16, uniqueItems: true });
const PlanName = Type.Enum(planNames, { description: 'essentials: identity only; standard: + API keys, devices; enterprise: + audit API, custom roles.' });
const FeatureName = Type.Enum(featureNames);
const obj = <P extends Parameters<typeof Type.Object>[0]>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

export const LoginRequest = obj({ tenant: TenantId, username: Type.String({ minLength: 1, maxLength: 64 }), password: Password });
export type LoginRequest = Static<typeof LoginRequest>;

export const TokenPair = obj(
  {
    status: Type.Literal('authenticated'),
    token_type: Type.Literal('Bearer'),
    access_token: Type.String({ description: 'EdDSA-signed JWT; send as `Authorization: Bearer …`.' }),
    expires_in: Type.Integer({ description: 'Seconds the access token is valid.' }),
    refresh_token: Type.String({ description: 'Opaque, single use: each refresh returns a new one. Reusing an old one ends the session.' }),
    session_id: Uuid,
  },
  'Signed in.',
);
export type TokenPair = Static<typeof TokenPair>;

export const MfaChallenge = obj(
  {
    status: Type.Literal('mfa_required'),
    mfa_token: Type.String({ description: 'Short-lived; send it with a TOTP code to /auth/mfa/verify.' }),
    expires_in: Type.Integer(),
  },
  'The password was right; a TOTP code is needed next.',
);
export type MfaChallenge = Static<typeof MfaChallenge>;

export const LoginResult = Type.Union([TokenPair, MfaChallenge]);
export type LoginResult = Static<typeof LoginResult>;

export const VerifyMfaRequest = obj({
  mfa_token: Type.String({ minLength: 1, maxLength: 4096 }),
  code: Type.Optional(TotpCode),
  recovery_code: Type.Optional(RecoveryCode),
});
export type VerifyMfaRequest = Static<typeof VerifyMfaRequest>;

export const RefreshRequest = obj({ refresh_token: Type.String({ minLength: 1, maxLength: 256 }) });
export type RefreshRequest = Static<typeof RefreshRequest>;

/** A session named by the caller's access token (its `sid`) or by id; the tenant and user come from the caller. */
export const SessionRef = obj({ session_id: Uuid });
export type SessionRef = Static<typeof SessionRef>;

export const RevokeSessionRequest = obj({ session_id: Uuid, current_session_id: Uuid });
export type RevokeSessionRequest = Static<typeof RevokeSessionRequest>;

export const SessionView = obj({
  id: Uuid,
  started_at: Type.String({ format: 'date-time' }),
  last_active_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  mfa: Type.Boolean(),
  current: Type.Boolean({ description: 'The session of the token that asked.' }),
});
export const SessionList = obj({ sessions: Type.Array(SessionView) });
export type SessionList = Static<typeof SessionList>;

export const MfaEnrollment = obj({
  otpauth_uri: Type.String({ description: 'For a QR code: otpauth://totp/…' }),
  secret: Type.String({ description: 'The same secret in base32, to type in by hand. Shown once.' }),
});
export type MfaEnrollment = Static<typeof MfaEnrollment>;

export const ConfirmMfaRequest = obj({ code: TotpCode });
export type ConfirmMfaRequest = Static<typeof ConfirmMfaRequest>;

export const RecoveryCodes = obj(
  {
    recovery_codes: Type.Array(Type.String(), {
      description: 'Shown this once; Vigil keeps only their hashes. Each signs in once instead of a TOTP code. New ones replace all earlier ones.',
    }),
  },
  'My recovery codes.',
);
export type RecoveryCodes = Static<typeof RecoveryCodes>;

/** Re-authentication for changing MFA: the current password and a second factor (a TOTP code or a recovery code). */
export const MfaReauthRequest = obj({ current_password: Password, code: Type.Optional(TotpCode), recovery_code: Type.Optional(RecoveryCode) });
export type MfaReauthRequest = Static<typeof MfaReauthRequest>;

export const Done = obj({ done: Type.Literal(true) });
export type Done = Static<typeof Done>;

export const PublicJwk = Type.Object(
  { kty: Type.Literal('OKP'), crv: Type.Literal('Ed25519'), x: Type.String(), kid: Type.String(), alg: Type.Literal('EdDSA'), use: Type.Literal('sig') },
  { additionalProperties: false },
);
export const Jwks = obj({ keys: Type.Array(PublicJwk) });
export type Jwks = Static<typeof Jwks>;

export const NewUser = obj({ username: Username, email: Email, password: Type.Optional(Password), roles: Roles });
export type NewUser = Static<typeof NewUser>;

export const CreateTenantRequest = obj({
  tenant_id: TenantId,
  name: Type.String({ minLength: 1, maxLength: 200 }),
  max_users: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  max_api_keys: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'API keys alive at once; default VIGIL_TENANT_MAX_API_KEYS.' })),
  max_devices: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'Devices registered at once; default VIGIL_TENANT_MAX_DEVICES.' })),
  plan: Type.Optional(PlanName),
  owner: obj({ username: Username, email: Email, password: Password }),
});
export type CreateTenantRequest = Static<typeof CreateTenantRequest>;
export const TenantCreatedResult = obj({ tenant_id: TenantId, owner_user_id: Uuid });
export type TenantCreatedResult = Static<typeof TenantCreatedResult>;

// The lifecycle and quotas of a tenant (platform administrators) -------------------------------------------------

export const SuspendTenantBody = obj({ reason: Type.Optional(Type.String({ maxLength: 500, description: 'Kept in the event and the audit trail; not personal data, please.' })) });
export const SuspendTenantRequest = obj({ tenant_id: TenantId, reason: Type.String({ maxLength: 500 }) });
export type SuspendTenantRequest = Static<typeof SuspendTenantRequest>;
export const TenantRef = obj({ tenant_id: TenantId });
export type TenantRef = Static<typeof TenantRef>;
const quotaProperties = {
  max_users: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Users at once (deleted users do not count).' })),
  max_api_keys: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'API keys alive at once.' })),
  max_devices: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, description: 'Devices registered at once (decommissioned ones do not count).' })),
};
export const TenantQuotasBody = Type.Object(quotaProperties, {
  additionalProperties: false,
  minProperties: 1,
  description: 'The quotas to change; the others stay. A lower quota refuses new creations only: what exists stays.',
});
export const ChangeTenantQuotasRequest = obj({ tenant_id: TenantId, ...quotaProperties });
export type ChangeTenantQuotasRequest = Static<typeof ChangeTenantQuotasRequest>;
const FeatureList = Type.Array(FeatureName, { maxItems: featureNames.length, uniqueItems: true });
export const TenantPlanBody = obj(
  {
    plan: PlanName,
    features_enabled: Type.Optional(Type.Array(FeatureName, { uniqueItems: true, maxItems: featureNames.length, description: 'Features this tenant has beyond its plan.' })),
    features_disabled: Type.Optional(Type.Array(FeatureName, { uniqueItems: true, maxItems: featureNames.length, description: 'Features of its plan this tenant does not have.' })),
  },
  'The plan and the tenant’s own flags; they replace the previous ones.',
);
export const ChangeTenantPlanRequest = obj({ tenant_id: TenantId, plan: PlanName, features_enabled: FeatureList, features_disabled: FeatureList });
export type ChangeTenantPlanRequest = Static<typeof ChangeTenantPlanRequest>;
export const TenantView = obj(
  {
    tenant_id: TenantId,
    name: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('suspended')]),
    suspended_at: Type.Optional(Type.String({ format: 'date-time', description: 'While suspended: since when.' })),
    plan: Type.String({ description: '`none` for a tenant made before plans: it keeps every feature until a plan is set.' }),
    features: Type.Array(FeatureName, { description: 'What the plan and the tenant’s own flags give.' }),
    max_users: Type.Integer(),
    max_api_keys: Type.Integer(),
    max_devices: Type.Union([Type.Integer(), Type.Null()], { description: 'Null: no device quota (a tenant made before device quotas, until one is set).' }),
    users: Type.Integer({ description: 'Seats held now.' }),
  },
  'The tenant now.',
);
export type TenantView = Static<typeof TenantView>;

export const UserCreatedResult = obj({ user_id: Uuid, tenant: TenantId });
export type UserCreatedResult = Static<typeof UserCreatedResult>;

/** The claims of an access token, as every edge checks them. */
export const AccessClaims = Type.Object({
  iss: Type.String(),
  aud: Type.Union([Type.String(), Type.Array(Type.String())]),
  sub: Uuid,
  sid: Uuid,
  tenant: TenantId,
  roles: Roles,
  exp: Type.Integer(),
  iat: Type.Integer(),
});
export type AccessClaims = Static<typeof AccessClaims>;

// API keys -----------------------------------------------------------------------------------------------------

/** A permission an API key may carry: one of the contract's, and (checked by the worker) one its maker holds. */
export const PermissionName = Type.Enum(permissionNames);
const KeyPermissions = Type.Array(PermissionName, { minItems: 1, maxItems: 32, uniqueItems: true });
const Instant = Type.String({ format: 'date-time' });

export const CreateApiKeyRequest = obj({
  name: Type.String({ minLength: 1, maxLength: 100, description: 'What the key is for, to recognise it in the list.' }),
  permissions: Type.Array(PermissionName, {
    minItems: 1,
    maxItems: 32,
    uniqueItems: true,
    description: 'A subset of my own permissions; never more. (A key never makes keys, whatever it carries: that needs a session.)',
  }),
  expires_at: Type.String({ format: 'date-time', description: 'In the future, and at most 365 days ahead.' }),
  rate_limit_per_minute: Type.Integer({ minimum: 1, maximum: 100_000, description: 'Requests per minute the key may make at each edge; beyond it 429 with Retry-After.' }),
});
export type CreateApiKeyRequest = Static<typeof CreateApiKeyRequest>;

const apiKeyViewProperties = {
  id: Uuid,
  name: Type.String(),
  user_id: Type.String({ format: 'uuid', description: 'The user who made the key; it acts for them.' }),
  permissions: KeyPermissions,
  created_at: Instant,
  expires_at: Instant,
  rate_limit_per_minute: Type.Integer(),
  last_used_at: Type.Union([Instant, Type.Null()], { description: 'To the minute; null when never used.' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired')]),
};
export const ApiKeyView = obj(apiKeyViewProperties);
export type ApiKeyView = Static<typeof ApiKeyView>;
export const CreatedApiKey = obj(
  { ...apiKeyViewProperties, key: Type.String({ description: '`vgl_<id>_<secret>`: shown this once, stored only as its SHA-256. Send as `Authorization: Bearer …` or `X-API-Key`.' }) },
  'The new key.',
);
export type CreatedApiKey = Static<typeof CreatedApiKey>;
export const ApiKeyList = obj({ api_keys: Type.Array(ApiKeyView) });
export type ApiKeyList = Static<typeof ApiKeyList>;
export const ListApiKeysQuery = obj({ all: Type.Optional(Type.Boolean({ description: 'Every key of my tenant, not only mine (needs api_keys:manage).' })) });
export const ListApiKeysRequest = obj({ all: Type.Boolean() });
export type ListApiKeysRequest = Static<typeof ListApiKeysRequest>;
export const ApiKeyRef = obj({ key_id: Uuid });
export type ApiKeyRef = Static<typeof ApiKeyRef>;

// Administration of users, and my own password ---------------------------------------------------------------

export const DisableUserBody = obj({ reason: Type.Optional(Type.String({ maxLength: 500, description: 'Kept in the event; not personal data, please.' })) });
export const DisableUserRequest = obj({ user_id: Uuid, reason: Type.String({ maxLength: 500 }) });
export type DisableUserRequest = Static<typeof DisableUserRequest>;
export const UserRef = obj({ user_id: Uuid });
export type UserRef = Static<typeof UserRef>;
export const DeleteUserRequest = obj({ user_id: Uuid, reason: Type.String({ maxLength: 500 }) });
export type DeleteUserRequest = Static<typeof DeleteUserRequest>;

const UserStatus = Type.Union([Type.Literal('active'), Type.Literal('disabled'), Type.Literal('deleted')]);
export const ListUsersQuery = obj({
  after: Type.Optional(Type.String({ format: 'uuid', description: 'The `next` of the previous page.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  status: Type.Optional(UserStatus),
});
export const ListUsersRequest = obj({ after: Type.Optional(Uuid), limit: Type.Integer({ minimum: 1, maximum: 1000 }), status: Type.Optional(UserStatus) });
export type ListUsersRequest = Static<typeof ListUsersRequest>;
export const UserView = obj({
  id: Uuid,
  username: Username,
  email: Type.String(),
  roles: Type.Array(RoleName),
  status: UserStatus,
  locked_until: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Null when not locked now.' }),
  mfa: Type.Boolean({ description: 'TOTP is on.' }),
  created_at: Type.String({ format: 'date-time' }),
});
export type UserView = Static<typeof UserView>;
export const UserPage = obj({
  users: Type.Array(UserView),
  next: Type.Union([Uuid, Type.Null()], { description: 'Pass as `after` for the next page; null on the last page.' }),
});
export type UserPage = Static<typeof UserPage>;
export const RoleBody = obj({ role: RoleName });
export const RoleChangeRequest = obj({ user_id: Uuid, role: RoleName });
export type RoleChangeRequest = Static<typeof RoleChangeRequest>;
export const UserRoles = obj({ user_id: Uuid, roles: Type.Array(RoleName) }, 'The user’s roles now.');
export type UserRoles = Static<typeof UserRoles>;

// Custom roles of a tenant -------------------------------------------------------------------------------------

const RolePermissions = Type.Array(PermissionName, {
  minItems: 1,
  maxItems: 32,
  uniqueItems: true,
  description: 'Only permissions I hold myself, and none of a platform administrator’s (tenants:*, kme:*).',
});
const RoleDescription = Type.String({ maxLength: 200, description: 'What the role is for; not personal data, please.' });
export const RoleDefinitionBody = obj({ permissions: RolePermissions, description: Type.Optional(RoleDescription) });
export const DefineRoleRequest = obj({ role: RoleName, permissions: RolePermissions, description: RoleDescription });
export type DefineRoleRequest = Static<typeof DefineRoleRequest>;
export const RoleRef = obj({ role: RoleName });
export type RoleRef = Static<typeof RoleRef>;
export const RoleView = obj({
  role: RoleName,
  built_in: Type.Boolean(),
  permissions: Type.Array(PermissionName),
  description: Type.String(),
});
export type RoleView = Static<typeof RoleView>;
export const RoleDefinitionResult = obj({ ...RoleView.properties, change: Type.Union([Type.Literal('defined'), Type.Literal('changed'), Type.Literal('unchanged')]) }, 'The role now.');
export type RoleDefinitionResult = Static<typeof RoleDefinitionResult>;
export const RoleList = obj({ roles: Type.Array(RoleView) }, 'The built-in roles, then the tenant’s custom roles.');
export type RoleList = Static<typeof RoleList>;
export const ChangePasswordBody = obj({ current_password: Password, new_password: Password });
/** On the bus the session to keep comes from the caller's token, never from the body. */
export const ChangePasswordRequest = obj({ current_password: Password, new_password: Password, session_id: Uuid });
export type ChangePasswordRequest = Static<typeof ChangePasswordRequest>;

// Invitations ---------------------------------------------------------------------------------------------------

export const NewInvitation = obj({
  email: Email,
  roles: Roles,
  expires_in_seconds: Type.Optional(
    Type.Integer({ minimum: 60, maximum: invitationMaxLifetimeSeconds, default: invitationDefaultLifetimeSeconds, description: 'Seven days unless said; at most thirty.' }),
  ),
});
export type NewInvitation = Static<typeof NewInvitation>;
export const IssuedInvitation = obj(
  {
    invitation_id: Uuid,
    token: Type.String({ description: '`vgi_<tenant>_<id>_<secret>`: shown this once, stored only as its SHA-256. Vigil sends no mail: hand it to the person invited.' }),
    expires_at: Instant,
  },
  'The invitation.',
);
export type IssuedInvitation = Static<typeof IssuedInvitation>;
export const AcceptInvitationRequest = obj({
  token: Type.String({ minLength: 1, maxLength: 256, description: 'The invitation token, as the inviter handed it over.' }),
  username: Username,
  password: Password,
});
export type AcceptInvitationRequest = Static<typeof AcceptInvitationRequest>;
export const ListInvitationsQuery = obj({
  after: Type.Optional(Type.String({ format: 'uuid', description: 'The `next` of the previous page.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
export const ListInvitationsRequest = obj({ after: Type.Optional(Uuid), limit: Type.Integer({ minimum: 1, maximum: 1000 }) });
export type ListInvitationsRequest = Static<typeof ListInvitationsRequest>;
export const InvitationView = obj({
  id: Uuid,
  email: Type.String(),
  roles: Type.Array(RoleName),
  status: Type.Union([Type.Literal('pending'), Type.Literal('expired')], { description: 'Expired: no longer accepted; revoke it to tidy the list.' }),
  created_at: Instant,
  expires_at: Instant,
});
export type InvitationView = Static<typeof InvitationView>;
export const InvitationPage = obj({
  invitations: Type.Array(InvitationView),
  next: Type.Union([Uuid, Type.Null()], { description: 'Pass as `after` for the next page; null on the last page.' }),
});
export type InvitationPage = Static<typeof InvitationPage>;
export const InvitationRef = obj({ invitation_id: Uuid });
export type InvitationRef = Static<typeof InvitationRef>;
