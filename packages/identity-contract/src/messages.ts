import { RoleName, TenantId, Username } from '@vigil/schemas';
import Type, { type Static } from 'typebox';

const Uuid = Type.String({ format: 'uuid' });
/** ASVS: at least 64 characters allowed; 128 bounds the hashing work one request may ask for. */
const Password = Type.String({ minLength: 1, maxLength: 128 });
const Email = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' });
const TotpCode = Type.String({ pattern: '^[0-9]{6}$' });
const Roles = Type.Array(RoleName, { minItems: 1, maxItems: 6, uniqueItems: true });
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

export const VerifyMfaRequest = obj({ mfa_token: Type.String({ minLength: 1, maxLength: 4096 }), code: TotpCode });
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
  owner: obj({ username: Username, email: Email, password: Password }),
});
export type CreateTenantRequest = Static<typeof CreateTenantRequest>;
export const TenantCreatedResult = obj({ tenant_id: TenantId, owner_user_id: Uuid });
export type TenantCreatedResult = Static<typeof TenantCreatedResult>;

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
