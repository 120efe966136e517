import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  ChangePasswordBody,
  ConfirmMfaRequest,
  Done,
  identitySubjects,
  Jwks,
  LoginRequest,
  LoginResult,
  MfaEnrollment,
  MfaReauthRequest,
  NewUser,
  parseDone,
  parseLoginResult,
  parseMfaEnrollment,
  parseRecoveryCodes,
  parseSessionList,
  parseTokenPair,
  parseUserCreated,
  permissions,
  RecoveryCodes,
  RefreshRequest,
  SessionList,
  TokenPair,
  UserCreatedResult,
  VerifyMfaRequest,
} from '@vigil/identity-contract';
import Type from 'typebox';
import { problemResponses } from '../problem.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import type { ApiKeyDirectory } from './api-key-directory.ts';
import { apiKeyRoutes } from './api-key-routes.ts';
import { callerOf, principalOf, sessionOf } from './authentication.ts';
import type { RevocationList } from './revocation-list.ts';
import { roleRoutes } from './role-routes.ts';
import { tenantRoutes } from './tenant-routes.ts';
import type { TenantStatus } from './tenant-status.ts';
import { userAdminRoutes } from './user-admin-routes.ts';
import { invitationRoutes } from './invitation-routes.ts';

export interface IdentityRouteOptions {
  readonly bus: Bus;
  readonly verifier: AccessTokenVerifier;
  readonly revocations: RevocationList;
  readonly apiKeys: ApiKeyDirectory;
  readonly tenants: TenantStatus;
  readonly timeoutMs: number;
  /** Requests per minute per client address on each sign-in route. */
  readonly authRateLimit: number;
}

/**
 * Sign-in, sessions, TOTP and the first administration routes. Every route declares a permission or that it is
 * public (checked as it is registered); sign-in routes are rate-limited per client address (429 with Retry-After).
 */
export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRouteOptions> = async (app, options) => {
  const { bus, verifier, revocations, apiKeys, tenants, timeoutMs } = options;
  app.addHook('onRoute', (route) => {
    if (route.schema?.hide === true || route.config?.permission || route.config?.public === true) return;
    throw new Error(`route policy: ${String(route.method)} ${route.url} declares neither a permission nor public access`);
  });
  await app.register(rateLimit, { global: false, addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true } });
  const limited = { max: options.authRateLimit, timeWindow: 60_000 };
  const auth = ['authentication'];
  const admin = ['administration'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller?: Caller) =>
    request(bus, subject, data, { timeoutMs, parse, ...(caller ? { caller } : {}) });

  app.post(
    '/auth/login',
    {
      config: { public: true, rateLimit: limited },
      schema: {
        summary: 'Sign in with a username and password',
        description:
          'Returns tokens, or an MFA challenge when the account has TOTP. Any failure (unknown user, wrong password, locked or disabled account) is the same 401.',
        tags: auth,
        body: LoginRequest,
        response: { 200: LoginResult, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.login, req.body, parseLoginResult),
  );

  app.post(
    '/auth/mfa/verify',
    {
      config: { public: true, rateLimit: limited },
      schema: {
        summary: 'Complete a sign-in with a TOTP code or a recovery code',
        description: 'Send `code` (TOTP) or `recovery_code`, not both. Each TOTP code is accepted once, and so is each recovery code.',
        tags: auth,
        body: VerifyMfaRequest,
        response: { 200: TokenPair, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.verifyMfa, req.body, parseTokenPair),
  );

  app.post(
    '/auth/refresh',
    {
      config: { public: true, rateLimit: limited },
      schema: {
        summary: 'Exchange a refresh token for new tokens',
        description: 'The refresh token is rotated. Presenting a rotated token again revokes the whole session.',
        tags: auth,
        body: RefreshRequest,
        response: { 200: TokenPair, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.refresh, req.body, parseTokenPair),
  );

  app.post(
    '/auth/logout',
    {
      config: { permission: permissions.profileSelf },
      schema: { summary: 'Sign out: end this session', description: 'Its tokens stop working at every edge within a second.', tags: auth, response: { 200: Done, ...problemResponses } },
    },
    async (req) => {
      const p = sessionOf(req);
      const done = await ask(identitySubjects.logout, { session_id: p.sessionId }, parseDone, callerOf(p));
      revocations.add(p.sessionId);
      return done;
    },
  );

  app.get(
    '/auth/sessions',
    { config: { permission: permissions.profileSelf }, schema: { summary: 'My sessions', tags: auth, response: { 200: SessionList, ...problemResponses } } },
    async (req) => {
      const p = sessionOf(req);
      return ask(identitySubjects.sessions, { session_id: p.sessionId }, parseSessionList, callerOf(p));
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      config: { permission: permissions.profileSelf },
      schema: {
        summary: 'End a session',
        description: 'One of my own, or, with sessions:revoke, anyone’s in my tenant.',
        tags: auth,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => {
      const p = sessionOf(req);
      const done = await ask(identitySubjects.revokeSession, { session_id: req.params.id, current_session_id: p.sessionId }, parseDone, callerOf(p));
      revocations.add(req.params.id);
      return done;
    },
  );

  app.post(
    '/auth/mfa/enroll',
    {
      config: { permission: permissions.profileSelf },
      schema: { summary: 'Start TOTP enrolment', description: 'Returns the otpauth:// URI for a QR code; confirm with a code to enable.', tags: auth, response: { 200: MfaEnrollment, ...problemResponses } },
    },
    async (req) => ask(identitySubjects.enrollMfa, {}, parseMfaEnrollment, callerOf(sessionOf(req))),
  );

  app.post(
    '/auth/mfa/confirm',
    {
      config: { permission: permissions.profileSelf },
      schema: {
        summary: 'Enable TOTP with a first code',
        description: 'Answers my ten recovery codes, shown this once: each signs in once instead of a TOTP code.',
        tags: auth,
        body: ConfirmMfaRequest,
        response: { 200: RecoveryCodes, ...problemResponses },
      },
    },
    async (req, reply) => reply.header('cache-control', 'no-store').send(await ask(identitySubjects.confirmMfa, req.body, parseRecoveryCodes, callerOf(sessionOf(req)))),
  );

  app.post(
    '/auth/mfa/disable',
    {
      config: { permission: permissions.profileSelf, rateLimit: limited },
      schema: {
        summary: 'Turn TOTP off',
        description:
          'Needs my current password and a TOTP code or a recovery code (a wrong one counts toward the lockout, like a failed sign-in), and a signed-in session. The secret and the recovery codes are gone.',
        tags: auth,
        body: MfaReauthRequest,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.disableMfa, req.body, parseDone, callerOf(sessionOf(req))),
  );

  app.post(
    '/auth/mfa/recovery-codes',
    {
      config: { permission: permissions.profileSelf, rateLimit: limited },
      schema: {
        summary: 'New recovery codes',
        description:
          'Needs my current password and a TOTP code or a recovery code (counted toward the lockout like a sign-in). Answers ten new codes, shown this once; every earlier code stops working.',
        tags: auth,
        body: MfaReauthRequest,
        response: { 200: RecoveryCodes, ...problemResponses },
      },
    },
    async (req, reply) => reply.header('cache-control', 'no-store').send(await ask(identitySubjects.regenerateRecoveryCodes, req.body, parseRecoveryCodes, callerOf(sessionOf(req)))),
  );

  app.post(
    '/auth/password',
    {
      config: { permission: permissions.profileSelf, rateLimit: limited },
      schema: {
        summary: 'Change my password',
        description:
          'Needs the current password (a wrong one counts toward the lockout, like a failed sign-in) and a signed-in session, not an API key. Every other session of mine ends; this one stays.',
        tags: auth,
        body: ChangePasswordBody,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => {
      const p = sessionOf(req);
      return ask(identitySubjects.changePassword, { ...req.body, session_id: p.sessionId }, parseDone, callerOf(p));
    },
  );

  app.get(
    '/.well-known/jwks.json',
    { config: { public: true }, schema: { summary: 'Access token signing keys (JWKS)', tags: auth, response: { 200: Jwks, ...problemResponses } } },
    async () => verifier.jwks(),
  );

  app.post(
    '/users',
    {
      config: { permission: permissions.usersCreate },
      schema: { summary: 'Create a user in my tenant', description: 'The tenant is the caller’s, never one named in the body.', tags: admin, body: NewUser, response: { 201: UserCreatedResult, ...problemResponses } },
    },
    async (req, reply) => reply.code(201).send(await ask(identitySubjects.createUser, req.body, parseUserCreated, callerOf(principalOf(req)))),
  );

  // Children of this plugin, so the route policy above applies to them too.
  await app.register(apiKeyRoutes, { bus, apiKeys, timeoutMs });
  await app.register(userAdminRoutes, { bus, timeoutMs });
  await app.register(invitationRoutes, { bus, timeoutMs, authRateLimit: options.authRateLimit });
  await app.register(roleRoutes, { bus, timeoutMs });
  await app.register(tenantRoutes, { bus, tenants, timeoutMs });
};
