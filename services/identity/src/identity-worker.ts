import {
  append,
  BadRequestError,
  createEvent,
  AggregateCache,
  handleCommand,
  serve,
  type Bus,
  type BusRequest,
  type Caller,
  type Decider,
  type EventMeta,
  type Served,
} from '@vigil/bus';
import { hashPassword, matchTotpStep, newTotpSecret, open, seal, sha256Hex, totpUri, uuidv7, verifyAgainstDummy, verifyPassword, type KekRing } from '@vigil/crypto';
import {
  ApiKeyLastUse,
  apiKeyMaxLifetimeMs,
  ApiKeyNotFoundError,
  ApiKeyRevokedError,
  apiKeySubject,
  AuthenticationFailedError,
  ForbiddenError,
  identitySubjects,
  mayGrant,
  MfaFailedError,
  MfaStateError,
  NameTakenError,
  parseApiKeyRef,
  parseChangePasswordRequest,
  parseConfirmMfaRequest,
  parseCreateApiKeyRequest,
  parseCreateTenantRequest,
  parseDisableUserRequest,
  parseListApiKeysRequest,
  parseLoginRequest,
  parseNewUser,
  parseRefreshRequest,
  parseRevokeSessionRequest,
  parseRoleChangeRequest,
  parseSessionRef,
  parseUserRef,
  parseVerifyMfaRequest,
  PasswordPolicyError,
  isPermission,
  permissions,
  permissionsOf,
  platformTenant,
  SessionNotFoundError,
  SessionRequiredError,
  sessionSubject,
  TenantExistsError,
  TokenInvalidError,
  type ApiKeyList,
  type ApiKeyView,
  type ChangePasswordRequest,
  type CreateApiKeyRequest,
  type CreatedApiKey,
  type CreateTenantRequest,
  type Done,
  type Jwks,
  type LoginResult,
  type MfaEnrollment,
  type NewUser,
  type Permission,
  type Role,
  type SessionList,
  type TenantCreatedResult,
  type TokenPair,
  type UserCreatedResult,
  type UserRoles,
} from '@vigil/identity-contract';
import { securityLogger, type Logger } from '@vigil/log';
import {
  AccountLockedAudit,
  AccountUnlockedAudit,
  ApiKeyCreatedAudit,
  ApiKeyRevokedAudit,
  LoginFailedAudit,
  LoginSucceededAudit,
  PasswordChangedAudit,
  RefreshReuseAudit,
  RoleChangedAudit,
  SessionRevokedAudit,
  UserDisabledAudit,
  type Actor,
  type AnyEnvelope,
} from '@vigil/schemas';
import type { EventDraft } from '@vigil/bus';
import { apiKeyDecider, isUsable, type ApiKeyCommand, type ApiKeyEvent, type ApiKeyRevocationReason, type ApiKeyState } from './api-key.ts';
import { newApiKey } from './api-key-token.ts';
import { claimDecider } from './claim.ts';
import { passwordProblem, type PasswordPolicy } from './password-policy.ts';
import { newRefreshToken, refreshTokenSession } from './refresh-token.ts';
import { isLive, sessionDecider, type RevocationReason, type SessionCommand, type SessionEvent, type SessionState } from './session.ts';
import type { SigningKeys } from './signing-keys.ts';
import { claimSubject, nameHash, tenantSubject, userSubject } from './subjects.ts';
import { TenantDirectory } from './tenant-directory.ts';
import { tenantDecider, type TenantCommand, type TenantEvent, type TenantState } from './tenant.ts';
import { TokenIssuer, type TokenSettings } from './token-issuer.ts';
import {
  apiKeysBeyondRoles,
  sessionsOverLimit,
  userDecider,
  type Administrator,
  type LockoutPolicy,
  type SealedSecret,
  type UserCommand,
  type UserEvent,
  type UserState,
} from './user.ts';

/** The rules a deployment sets (packages/config), in the units the deciders use. */
export interface IdentityPolicy {
  readonly tokens: TokenSettings;
  readonly sessionMaxMs: number;
  readonly sessionIdleMs: number;
  readonly maxSessionsPerUser: number;
  readonly password: PasswordPolicy;
  readonly lockout: LockoutPolicy;
  readonly tenantMaxUsers: number;
  /** API keys alive at once per tenant, for tenants whose creation named no quota. */
  readonly tenantMaxApiKeys: number;
  /** The issuer name authenticator apps show beside the account. */
  readonly totpIssuer: string;
}

export interface IdentityWorkerOptions {
  readonly bus: Bus;
  readonly ring: KekRing;
  readonly keys: SigningKeys;
  readonly policy: IdentityPolicy;
  readonly logger: Logger;
}

const serviceActor = { kind: 'service', id: 'identity' } as const;
const seatAttempts = 64;

/** A caller of a tenant, as the edge authenticated them: a signed-in user, or an API key. */
type TenantCaller = Caller & { tenant: string };

/** Who acts, once the worker has checked it: the user, and when through an API key, the key and what it carries. */
interface Acting {
  readonly tenant: string;
  readonly userId: string;
  readonly actor: Actor;
  readonly apiKey?: { readonly id: string; readonly permissions: ReadonlySet<string> };
}

/** handleCommand, also returning what the final (appended) decision was: the outcome of an attempt is in its events. */
async function decideAndAppend<Command, State, Event extends AnyEnvelope>(
  bus: Bus,
  subject: string,
  decider: Decider<Command, State, Event>,
  command: Command,
  meta: EventMeta,
  cache?: AggregateCache<Command, State, Event>,
): Promise<{ state: State; seq: number; decided: readonly EventDraft[] }> {
  let decided: readonly EventDraft[] = [];
  const capturing: Decider<Command, State, Event> = {
    ...decider,
    decide: (c, s) => {
      const drafts = decider.decide(c, s);
      decided = drafts;
      return drafts;
    },
  };
  // Sign-in attempts on one user (or refreshes of one session) may arrive together: each must be counted, not refused.
  const result = await handleCommand(bus, { subject, decider: capturing, command, meta, maxAttempts: seatAttempts, ...(cache ? { cache } : {}) });
  return { state: result.state, seq: result.seq, decided };
}

/**
 * The identity worker: tenants, users, credentials, sessions and TOTP, serving `cmd.identity.*` and
 * `qry.identity.*`. Stateless across restarts: every decision that must not race (a unique name, a seat of the
 * quota, a failed attempt, a refresh-token rotation) is an append with the expected last subject sequence.
 */
export class IdentityWorker {
  readonly #bus: Bus;
  readonly #ring: KekRing;
  readonly #keys: SigningKeys;
  readonly #policy: IdentityPolicy;
  readonly #logger: Logger;
  readonly #audit: Logger;
  readonly #admin: Logger;
  readonly #tokens: TokenIssuer;
  readonly #users: AggregateCache<UserCommand, UserState, UserEvent>;
  readonly #sessionStates: AggregateCache<SessionCommand, SessionState, SessionEvent>;
  readonly #apiKeys: AggregateCache<ApiKeyCommand, ApiKeyState, ApiKeyEvent>;
  readonly #tenantStates: AggregateCache<TenantCommand, TenantState, TenantEvent>;
  readonly #tenants: TenantDirectory;
  readonly #served: Served[] = [];
  #lastUse: ApiKeyLastUse | undefined;

  constructor(options: IdentityWorkerOptions) {
    this.#bus = options.bus;
    this.#ring = options.ring;
    this.#keys = options.keys;
    this.#policy = options.policy;
    this.#logger = options.logger;
    this.#audit = securityLogger(options.logger, 'authentication');
    this.#admin = securityLogger(options.logger, 'administration');
    this.#tokens = new TokenIssuer(options.keys, options.policy.tokens);
    this.#users = new AggregateCache(options.bus, userDecider);
    this.#sessionStates = new AggregateCache(options.bus, sessionDecider);
    this.#apiKeys = new AggregateCache(options.bus, apiKeyDecider);
    this.#tenantStates = new AggregateCache(options.bus, tenantDecider);
    this.#tenants = new TenantDirectory(options.bus);
  }

  get tenants(): TenantDirectory {
    return this.#tenants;
  }

  async start(): Promise<void> {
    await this.#tenants.start();
    this.#lastUse = await ApiKeyLastUse.open(this.#bus);
    const s = identitySubjects;
    const callerOf = (r: BusRequest<unknown>): TenantCaller => {
      const c = r.caller;
      if (!c || (c.actor.kind !== 'user' && c.actor.kind !== 'api_key') || !c.tenant) throw new TokenInvalidError();
      return { ...c, tenant: c.tenant };
    };
    /** Routes about one's own sign-in need the person, not a key acting for them. */
    const personOf = (r: BusRequest<unknown>): TenantCaller => {
      const c = callerOf(r);
      if (c.actor.kind !== 'user') throw new SessionRequiredError();
      return c;
    };
    this.#served.push(
      serve(this.#bus, { subject: s.jwks, parse: () => undefined, handle: async () => this.jwks() }),
      serve(this.#bus, { subject: s.login, parse: parseLoginRequest, handle: (r) => this.login(r.data) }),
      serve(this.#bus, { subject: s.verifyMfa, parse: parseVerifyMfaRequest, handle: (r) => this.verifyMfa(r.data.mfa_token, r.data.code) }),
      serve(this.#bus, { subject: s.refresh, parse: parseRefreshRequest, handle: (r) => this.refresh(r.data.refresh_token) }),
      serve(this.#bus, { subject: s.logout, parse: parseSessionRef, handle: (r) => this.logout(personOf(r), r.data.session_id) }),
      serve(this.#bus, {
        subject: s.revokeSession,
        parse: parseRevokeSessionRequest,
        handle: (r) => this.revokeSession(callerOf(r), r.data.session_id),
      }),
      serve(this.#bus, { subject: s.sessions, parse: parseSessionRef, handle: (r) => this.sessions(personOf(r), r.data.session_id) }),
      serve(this.#bus, { subject: s.enrollMfa, parse: () => undefined, handle: (r) => this.enrollMfa(personOf(r)) }),
      serve(this.#bus, { subject: s.confirmMfa, parse: parseConfirmMfaRequest, handle: (r) => this.confirmMfa(personOf(r), r.data.code) }),
      serve(this.#bus, { subject: s.changePassword, parse: parseChangePasswordRequest, handle: (r) => this.changePassword(personOf(r), r.data) }),
      serve(this.#bus, { subject: s.createTenant, parse: parseCreateTenantRequest, handle: (r) => this.createTenantAsCaller(callerOf(r), r.data) }),
      serve(this.#bus, { subject: s.createUser, parse: parseNewUser, handle: (r) => this.createUserAsCaller(callerOf(r), r.data) }),
      serve(this.#bus, { subject: s.createApiKey, parse: parseCreateApiKeyRequest, handle: (r) => this.createApiKey(personOf(r), r.data) }),
      serve(this.#bus, { subject: s.apiKeys, parse: parseListApiKeysRequest, handle: (r) => this.apiKeyList(callerOf(r), r.data.all) }),
      serve(this.#bus, { subject: s.revokeApiKey, parse: parseApiKeyRef, handle: (r) => this.revokeApiKey(callerOf(r), r.data.key_id) }),
      serve(this.#bus, { subject: s.disableUser, parse: parseDisableUserRequest, handle: (r) => this.disableUser(callerOf(r), r.data.user_id, r.data.reason) }),
      serve(this.#bus, { subject: s.unlockUser, parse: parseUserRef, handle: (r) => this.unlockUser(callerOf(r), r.data.user_id) }),
      serve(this.#bus, { subject: s.assignRole, parse: parseRoleChangeRequest, handle: (r) => this.changeRole(callerOf(r), r.data.user_id, r.data.role, 'assigned') }),
      serve(this.#bus, { subject: s.revokeRole, parse: parseRoleChangeRequest, handle: (r) => this.changeRole(callerOf(r), r.data.user_id, r.data.role, 'revoked') }),
    );
  }

  async stop(): Promise<void> {
    for (const s of this.#served) await s.stop();
    await this.#tenants.stop();
  }

  jwks(): Jwks {
    return { keys: [...this.#keys.publicKeys] };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Tenants and users
  // ------------------------------------------------------------------------------------------------------------

  /** Who a caller is: a user as such, or the user an API key acts for, once the key is checked to be usable now. */
  async #acting(caller: TenantCaller): Promise<Acting> {
    const { tenant, actor } = caller;
    if (actor.kind === 'user') return { tenant, userId: actor.id, actor };
    if (actor.kind !== 'api_key') throw new TokenInvalidError();
    const { state } = await this.#apiKeys.read(apiKeySubject(tenant, actor.id));
    if (!isUsable(state, Date.now()) || state.userId === undefined || !(await this.#tenants.isActive(tenant))) throw new TokenInvalidError();
    return { tenant, userId: state.userId, actor, apiKey: { id: actor.id, permissions: new Set(state.permissions) } };
  }

  /**
   * The caller's permissions as the user's own aggregate holds them (narrowed to an API key's), when they include
   * `permission`: the worker does not take the edge's word alone.
   */
  async #require(caller: TenantCaller, permission: Permission): Promise<Acting & Administrator> {
    const acting = await this.#acting(caller);
    const { state } = await this.#users.read(userSubject(acting.tenant, acting.userId));
    if (state.id === undefined || state.disabled) throw new ForbiddenError(permission);
    const key = acting.apiKey;
    const held: ReadonlySet<string> = new Set([...permissionsOf(state.roles)].filter((p) => !key || key.permissions.has(p)));
    if (!held.has(permission)) throw new ForbiddenError(permission);
    return { ...acting, permissions: held };
  }

  async createTenantAsCaller(caller: TenantCaller, data: CreateTenantRequest): Promise<TenantCreatedResult> {
    if (caller.tenant !== platformTenant) throw new ForbiddenError(permissions.tenantsCreate);
    await this.#require(caller, permissions.tenantsCreate);
    return this.createTenant(data, caller.actor);
  }

  /** A tenant with its first user, its owner. */
  async createTenant(data: CreateTenantRequest, actor: Caller['actor'] = serviceActor): Promise<TenantCreatedResult> {
    this.#checkPassword(data.owner.password, data.owner.username);
    const result = await handleCommand(this.#bus, {
      subject: tenantSubject(data.tenant_id),
      decider: tenantDecider,
      command: {
        kind: 'create',
        tenantId: data.tenant_id,
        name: data.name,
        maxUsers: data.max_users ?? this.#policy.tenantMaxUsers,
        maxApiKeys: data.max_api_keys ?? this.#policy.tenantMaxApiKeys,
      },
      meta: { actor, tenant: data.tenant_id },
    });
    await this.#tenants.reach(result.seq);
    const owner = await this.createUser(data.tenant_id, { ...data.owner, roles: ['owner'] }, actor);
    return { tenant_id: data.tenant_id, owner_user_id: owner.user_id };
  }

  async createUserAsCaller(caller: TenantCaller, data: NewUser): Promise<UserCreatedResult> {
    const acting = await this.#require(caller, permissions.usersCreate);
    if (!mayGrant(acting, data.roles)) throw new ForbiddenError('to grant roles beyond your own');
    return this.createUser(caller.tenant, data, caller.actor);
  }

  #checkPassword(password: string, username: string): void {
    const problem = passwordProblem(password, this.#policy.password, { username });
    if (problem) throw new PasswordPolicyError(problem);
  }

  /**
   * A user of a tenant: a seat of its quota, then the username, then the e-mail address, each settled by an append
   * with expected sequence (the first writer wins); a step that loses gives back what the earlier steps took.
   */
  async createUser(tenant: string, data: NewUser, actor: Caller['actor'] = serviceActor): Promise<UserCreatedResult> {
    if (data.password !== undefined) this.#checkPassword(data.password, data.username);
    const passwordHash = data.password === undefined ? undefined : await hashPassword(data.password);
    const userId = uuidv7();
    const meta: EventMeta = { actor, tenant };
    // A tenant's seats are one subject: concurrent creations in one tenant queue up on it, hence more attempts.
    await handleCommand(this.#bus, { subject: tenantSubject(tenant), decider: tenantDecider, command: { kind: 'take_seat', userId }, meta, maxAttempts: seatAttempts });
    const taken: string[] = [];
    try {
      for (const [kind, value, what] of [
        ['username', data.username, 'username'],
        ['email', data.email, 'e-mail address'],
      ] as const) {
        const subject = claimSubject(tenant, kind, value);
        await handleCommand(this.#bus, { subject, decider: claimDecider, command: { kind: 'claim', userId, what }, meta });
        taken.push(subject);
      }
    } catch (err) {
      for (const subject of taken) await handleCommand(this.#bus, { subject, decider: claimDecider, command: { kind: 'release', userId }, meta });
      await handleCommand(this.#bus, { subject: tenantSubject(tenant), decider: tenantDecider, command: { kind: 'release_seat', userId }, meta, maxAttempts: seatAttempts });
      throw err;
    }
    const email = seal(this.#ring, Buffer.from(data.email, 'utf8'), `identity.email:${userId}`);
    await handleCommand(this.#bus, {
      subject: userSubject(tenant, userId),
      decider: userDecider,
      command: {
        kind: 'create',
        data: {
          user_id: userId,
          username: data.username.toLowerCase(),
          email_sha256: nameHash(tenant, 'email', data.email),
          email: { kek_id: email.kekId, sealed: email.data.toString('base64') },
          roles: data.roles,
        },
        ...(passwordHash ? { passwordHash } : {}),
      },
      meta,
    });
    this.#logger.info({ tenant, user_id: userId, category: 'administration' }, 'user created');
    return { user_id: userId, tenant };
  }

  /** The first platform administrator, once; replicas racing here settle it on the username claim. */
  async bootstrapAdmin(username: string, email: string, password: string): Promise<'created' | 'exists'> {
    try {
      await handleCommand(this.#bus, {
        subject: tenantSubject(platformTenant),
        decider: tenantDecider,
        command: { kind: 'create', tenantId: platformTenant, name: 'Vigil platform', maxUsers: this.#policy.tenantMaxUsers, maxApiKeys: this.#policy.tenantMaxApiKeys },
        meta: { actor: serviceActor, tenant: platformTenant },
      });
    } catch (err) {
      if (!(err instanceof TenantExistsError)) throw err;
    }
    const claim = await this.#bus.jsm.streams.getMessage(this.#bus.names.stream('AUTH_EVENT'), { last_by_subj: this.#bus.names.subject(claimSubject(platformTenant, 'username', username)) });
    if (claim) return 'exists';
    try {
      await this.createUser(platformTenant, { username, email, password, roles: ['platform_admin'] });
      return 'created';
    } catch (err) {
      if (err instanceof NameTakenError) return 'exists';
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // Sign-in
  // ------------------------------------------------------------------------------------------------------------

  /** The user a username names in a tenant, from its claim subject (one direct read, no table). */
  async #userIdOf(tenant: string, username: string): Promise<string | undefined> {
    const last = await this.#bus.jsm.streams.getMessage(this.#bus.names.stream('AUTH_EVENT'), {
      last_by_subj: this.#bus.names.subject(claimSubject(tenant, 'username', username)),
    });
    if (!last) return undefined;
    const event: unknown = last.json();
    const validation = this.#bus.registry.validate(event);
    if (!validation.ok || validation.event.type !== 'auth.claim.taken') return undefined;
    const data = validation.event.data;
    return typeof data === 'object' && data !== null && 'user_id' in data && typeof data.user_id === 'string' ? data.user_id : undefined;
  }

  /** A security event onto AUDIT; a failure to record it is logged, and never turns a sign-in answer into a 500. */
  async #record(event: AnyEnvelope & { tenant?: string; data: { category: string } }): Promise<void> {
    try {
      await append(this.#bus, `audit.${event.tenant ?? '_platform'}.${event.data.category}`, event);
    } catch (err) {
      this.#logger.error({ err, type: event.type }, 'could not record a security event on AUDIT');
    }
  }

  async #loginFailed(tenant: string, username: string, userId: string | undefined, factor: 'password' | 'totp', reason: 'wrong' | 'replayed' | 'locked' | 'disabled' | 'unknown_user'): Promise<never> {
    this.#audit.info({ tenant, user_id: userId, factor, reason }, 'sign-in refused');
    await this.#record(
      createEvent(
        LoginFailedAudit,
        {
          category: 'authentication',
          severity: reason === 'replayed' ? 'warning' : 'notice',
          ...(userId ? { user_id: userId } : {}),
          username_sha256: nameHash(tenant, 'username', username),
          factor,
          reason,
        },
        { actor: userId ? { kind: 'user', id: userId } : { kind: 'system', id: 'anonymous' }, tenant },
      ),
    );
    throw new AuthenticationFailedError();
  }

  /** After a failed attempt's event: a lock it carried goes to AUDIT as its own record. */
  async #afterFailure(tenant: string, userId: string, decided: readonly EventDraft[], factor: 'password' | 'totp', failuresBefore: number): Promise<void> {
    for (const d of decided) {
      const data = d.data;
      if (d.type === 'auth.user.login_failed' && typeof data === 'object' && data !== null && 'locked_until' in data && typeof data.locked_until === 'string') {
        this.#audit.warn({ tenant, user_id: userId, factor, until: data.locked_until }, 'account locked');
        await this.#record(
          createEvent(
            AccountLockedAudit,
            { category: 'authentication', severity: 'warning', user_id: userId, until: data.locked_until, failures: failuresBefore + 1, factor },
            { actor: { kind: 'user', id: userId }, tenant },
          ),
        );
      }
    }
  }

  async login(data: { tenant: string; username: string; password: string }): Promise<LoginResult> {
    const { tenant, username, password } = data;
    const now = Date.now();
    const userId = (await this.#tenants.isActive(tenant)) ? await this.#userIdOf(tenant, username) : undefined;
    if (!userId) {
      await verifyAgainstDummy(password);
      return this.#loginFailed(tenant, username, undefined, 'password', 'unknown_user');
    }
    const subject = userSubject(tenant, userId);
    const before = await this.#users.read(subject);
    const hash = before.state.passwordHash;
    const matched = hash ? await verifyPassword(hash, password) : await verifyAgainstDummy(password);
    const session = { id: uuidv7(), expiresAt: now + this.#policy.sessionMaxMs };
    const { state, seq, decided } = await decideAndAppend(
      this.#bus,
      subject,
      userDecider,
      { kind: 'password_attempt', matched, passwordVersion: before.state.passwordVersion, now, session, policy: this.#policy.lockout },
      { actor: { kind: 'user', id: userId }, tenant },
      this.#users,
    );
    this.#users.remember(subject, state, seq);
    if (decided.some((d) => d.type === 'auth.user.logged_in')) return this.#openSession(tenant, userId, state, session, false);
    if (decided.some((d) => d.type === 'auth.user.login_failed')) {
      await this.#afterFailure(tenant, userId, decided, 'password', before.state.failures.password);
      return this.#loginFailed(tenant, username, userId, 'password', 'wrong');
    }
    if (state.disabled) return this.#loginFailed(tenant, username, userId, 'password', 'disabled');
    if (state.lockedUntil !== undefined && state.lockedUntil > now) return this.#loginFailed(tenant, username, userId, 'password', 'locked');
    if (matched && state.mfa) return { status: 'mfa_required', mfa_token: await this.#tokens.mfaToken(userId, tenant, now), expires_in: this.#policy.tokens.mfaTtlSeconds };
    // The password changed while this attempt was being checked: it proves nothing either way.
    return this.#loginFailed(tenant, username, userId, 'password', 'wrong');
  }

  async verifyMfa(mfaToken: string, code: string): Promise<TokenPair> {
    const challenge = await this.#tokens.verifyMfaToken(mfaToken);
    if (!challenge) throw new MfaFailedError();
    const { userId, tenant } = challenge;
    const now = Date.now();
    const subject = userSubject(tenant, userId);
    const before = await this.#users.read(subject);
    const secret = before.state.mfa ? this.#openTotpSecret(userId, before.state.mfa.secret) : undefined;
    const step = secret ? matchTotpStep(secret, code, now) : undefined;
    const session = { id: uuidv7(), expiresAt: now + this.#policy.sessionMaxMs };
    const { state, seq, decided } = await decideAndAppend(
      this.#bus,
      subject,
      userDecider,
      { kind: 'totp_attempt', step, now, session, policy: this.#policy.lockout },
      { actor: { kind: 'user', id: userId }, tenant },
      this.#users,
    );
    this.#users.remember(subject, state, seq);
    if (decided.some((d) => d.type === 'auth.user.logged_in')) return this.#openSession(tenant, userId, state, session, true);
    const username = state.username ?? userId;
    const failed = decided.find((d) => d.type === 'auth.user.login_failed');
    if (failed) {
      await this.#afterFailure(tenant, userId, decided, 'totp', before.state.failures.totp);
      const replayed = typeof failed.data === 'object' && failed.data !== null && 'reason' in failed.data && failed.data.reason === 'replayed';
      await this.#loginFailed(tenant, username, userId, 'totp', replayed ? 'replayed' : 'wrong').catch(() => undefined);
      throw new MfaFailedError();
    }
    await this.#loginFailed(tenant, username, userId, 'totp', state.disabled ? 'disabled' : 'locked').catch(() => undefined);
    throw new MfaFailedError();
  }

  #openTotpSecret(userId: string, sealed: SealedSecret): string {
    return open(this.#ring, { kekId: sealed.kek_id, data: Buffer.from(sealed.sealed, 'base64') }, `identity.totp:${userId}`).toString('utf8');
  }

  /** After a successful attempt: the session's own aggregate, the sessions over the limit ended, the tokens. */
  async #openSession(tenant: string, userId: string, user: UserState, session: { id: string; expiresAt: number }, mfa: boolean): Promise<TokenPair> {
    const refresh = newRefreshToken(tenant, session.id);
    const actor = { kind: 'user', id: userId } as const;
    await handleCommand(this.#bus, {
      subject: sessionSubject(tenant, session.id),
      decider: sessionDecider,
      command: { kind: 'start', data: { user_id: userId, roles: [...user.roles], refresh_sha256: refresh.sha256, expires_at: new Date(session.expiresAt).toISOString(), mfa } },
      meta: { actor, tenant },
    });
    for (const oldest of sessionsOverLimit(user, Date.now(), this.#policy.maxSessionsPerUser)) {
      await this.#endSession(tenant, userId, oldest, 'session_limit', actor);
    }
    await this.#record(createEvent(LoginSucceededAudit, { category: 'authentication', severity: 'info', user_id: userId, session_id: session.id, mfa }, { actor, tenant }));
    this.#audit.info({ tenant, user_id: userId, session_id: session.id, mfa }, 'signed in');
    return this.#tokenPair(tenant, userId, session.id, user.roles, refresh.token);
  }

  async #tokenPair(tenant: string, userId: string, sessionId: string, roles: readonly Role[], refreshToken: string): Promise<TokenPair> {
    return {
      status: 'authenticated',
      token_type: 'Bearer',
      access_token: await this.#tokens.accessToken({ userId, tenant, sessionId, roles }),
      expires_in: this.#policy.tokens.accessTtlSeconds,
      refresh_token: refreshToken,
      session_id: sessionId,
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Sessions
  // ------------------------------------------------------------------------------------------------------------

  async #sessionCommand(tenant: string, sessionId: string, command: SessionCommand, actor: Caller['actor']) {
    return decideAndAppend(this.#bus, sessionSubject(tenant, sessionId), sessionDecider, command, { actor, tenant }, this.#sessionStates);
  }

  /** Revokes a session and takes it off its user's list; the revocation reaches every edge over the bus. */
  /** Whether this call ended it (false: it had ended already). */
  async #endSession(tenant: string, userId: string, sessionId: string, reason: RevocationReason, actor: Caller['actor']): Promise<boolean> {
    const { decided } = await this.#sessionCommand(tenant, sessionId, { kind: 'revoke', reason }, actor);
    await this.#afterRevocation(tenant, userId, sessionId, reason, decided, actor);
    return decided.some((d) => d.type === 'auth.session.revoked');
  }

  async #afterRevocation(tenant: string, userId: string, sessionId: string, reason: RevocationReason, decided: readonly EventDraft[], actor: Caller['actor']): Promise<void> {
    if (!decided.some((d) => d.type === 'auth.session.revoked')) return;
    const subject = userSubject(tenant, userId);
    const result = await handleCommand(this.#bus, { subject, decider: userDecider, command: { kind: 'end_session', sessionId }, meta: { actor, tenant } });
    this.#users.remember(subject, result.state, result.seq);
    await this.#record(
      createEvent(
        SessionRevokedAudit,
        { category: 'authentication', severity: reason === 'refresh_reuse' ? 'critical' : 'info', user_id: userId, session_id: sessionId, reason },
        { actor, tenant },
      ),
    );
  }

  async refresh(token: string): Promise<TokenPair> {
    const named = refreshTokenSession(token);
    if (!named) throw new TokenInvalidError();
    const { tenant, sessionId } = named;
    if (!(await this.#tenants.isActive(tenant))) throw new TokenInvalidError();
    const next = newRefreshToken(tenant, sessionId);
    const now = Date.now();
    const presented = sha256Hex(token);
    const { state, decided } = await this.#sessionCommand(tenant, sessionId, { kind: 'refresh', presented, next: next.sha256, now, idleMs: this.#policy.sessionIdleMs }, serviceActor);
    const userId = state.userId;
    if (!userId) throw new TokenInvalidError();
    if (decided.some((d) => d.type === 'auth.session.refreshed')) return this.#tokenPair(tenant, userId, sessionId, state.roles, next.token);
    if (state.status === 'revoked' && state.revokedReason) {
      const actor = { kind: 'user', id: userId } as const;
      await this.#afterRevocation(tenant, userId, sessionId, state.revokedReason, decided, actor);
      if (state.revokedReason === 'refresh_reuse' && decided.length > 0) {
        this.#audit.warn({ tenant, user_id: userId, session_id: sessionId }, 'refresh token reused: session revoked');
        await this.#record(createEvent(RefreshReuseAudit, { category: 'authentication', severity: 'critical', user_id: userId, session_id: sessionId }, { actor, tenant }));
      }
    }
    throw new TokenInvalidError();
  }

  /** A session of the caller's own, or one an administrator of the same tenant may end. */
  async #revocable(caller: TenantCaller, sessionId: string): Promise<SessionState & { userId: string; byOwner: boolean }> {
    const acting = await this.#acting(caller);
    const loaded = await this.#sessionState(caller.tenant, sessionId);
    if (!loaded.userId || loaded.status === 'none') throw new SessionNotFoundError();
    const byOwner = loaded.userId === acting.userId;
    if (!byOwner) await this.#require(caller, permissions.sessionsRevoke).catch(() => Promise.reject(new SessionNotFoundError()));
    return { ...loaded, userId: loaded.userId, byOwner };
  }

  async #sessionState(tenant: string, sessionId: string): Promise<SessionState> {
    return (await this.#sessionStates.read(sessionSubject(tenant, sessionId))).state;
  }

  async logout(caller: TenantCaller, sessionId: string): Promise<Done> {
    const session = await this.#revocable(caller, sessionId);
    if (!session.byOwner) throw new SessionNotFoundError();
    await this.#endSession(caller.tenant, session.userId, sessionId, 'logout', caller.actor);
    return { done: true };
  }

  async revokeSession(caller: TenantCaller, sessionId: string): Promise<Done> {
    const session = await this.#revocable(caller, sessionId);
    await this.#endSession(caller.tenant, session.userId, sessionId, session.byOwner ? 'logout' : 'revoked', caller.actor);
    return { done: true };
  }

  async sessions(caller: TenantCaller, currentSessionId: string): Promise<SessionList> {
    const { state } = await this.#users.read(userSubject(caller.tenant, caller.actor.id));
    const now = Date.now();
    const sessions: SessionList['sessions'] = [];
    for (const s of state.sessions) {
      if (s.expiresAt <= now) continue;
      const session = await this.#sessionState(caller.tenant, s.id);
      if (!isLive(session, now, this.#policy.sessionIdleMs)) continue;
      sessions.push({
        id: s.id,
        started_at: new Date(session.startedAt).toISOString(),
        last_active_at: new Date(session.lastActiveAt).toISOString(),
        expires_at: new Date(session.expiresAt).toISOString(),
        mfa: session.mfa,
        current: s.id === currentSessionId,
      });
    }
    return { sessions };
  }

  // ------------------------------------------------------------------------------------------------------------
  // TOTP
  // ------------------------------------------------------------------------------------------------------------

  async enrollMfa(caller: TenantCaller): Promise<MfaEnrollment> {
    const userId = caller.actor.id;
    const subject = userSubject(caller.tenant, userId);
    const { state } = await this.#users.read(subject);
    if (state.id === undefined) throw new TokenInvalidError();
    if (state.mfa) throw new MfaStateError('MFA is already enabled');
    const secret = newTotpSecret();
    const sealed = seal(this.#ring, Buffer.from(secret, 'utf8'), `identity.totp:${userId}`);
    const result = await handleCommand(this.#bus, {
      subject,
      decider: userDecider,
      command: { kind: 'enroll_mfa', enrollmentId: uuidv7(), secret: { kek_id: sealed.kekId, sealed: sealed.data.toString('base64') } },
      meta: { actor: caller.actor, tenant: caller.tenant },
    });
    this.#users.remember(subject, result.state, result.seq);
    return { otpauth_uri: totpUriFor(this.#policy.totpIssuer, caller.tenant, state.username ?? userId, secret), secret };
  }

  async confirmMfa(caller: TenantCaller, code: string): Promise<Done> {
    const userId = caller.actor.id;
    const subject = userSubject(caller.tenant, userId);
    const { state } = await this.#users.read(subject);
    const pending = state.pendingMfa;
    if (!pending) throw new MfaStateError('no MFA enrollment is pending');
    const step = matchTotpStep(this.#openTotpSecret(userId, pending.secret), code, Date.now());
    const result = await handleCommand(this.#bus, {
      subject,
      decider: userDecider,
      command: { kind: 'confirm_mfa', enrollmentId: pending.enrollmentId, step },
      meta: { actor: caller.actor, tenant: caller.tenant },
    });
    this.#users.remember(subject, result.state, result.seq);
    this.#audit.info({ tenant: caller.tenant, user_id: userId }, 'TOTP enabled');
    return { done: true };
  }

  // ------------------------------------------------------------------------------------------------------------
  // My password
  // ------------------------------------------------------------------------------------------------------------

  /**
   * A new password, after re-authentication with the current one: a wrong one counts toward the lockout like a failed
   * sign-in (a stolen access token must not become an unlimited password oracle). Every other session then ends.
   */
  async changePassword(caller: TenantCaller, data: ChangePasswordRequest): Promise<Done> {
    const { tenant, actor } = caller;
    const userId = actor.id;
    const subject = userSubject(tenant, userId);
    const before = await this.#users.read(subject);
    const username = before.state.username ?? userId;
    this.#checkPassword(data.new_password, username);
    const hash = before.state.passwordHash;
    const matched = hash ? await verifyPassword(hash, data.current_password) : await verifyAgainstDummy(data.current_password);
    let check: Extract<UserCommand, { kind: 'change_password' }>['check'] = { matched: false };
    if (matched) check = { matched: true, newPasswordHash: await hashPassword(data.new_password) };
    const command: UserCommand = { kind: 'change_password', check, passwordVersion: before.state.passwordVersion, now: Date.now(), policy: this.#policy.lockout };
    const { state, seq, decided } = await decideAndAppend(this.#bus, subject, userDecider, command, { actor, tenant }, this.#users);
    this.#users.remember(subject, state, seq);
    if (decided.some((d) => d.type === 'auth.user.login_failed')) {
      await this.#afterFailure(tenant, userId, decided, 'password', before.state.failures.password);
      return this.#loginFailed(tenant, username, userId, 'password', 'wrong');
    }
    if (!decided.some((d) => d.type === 'auth.user.password_set')) return this.#loginFailed(tenant, username, userId, 'password', state.disabled ? 'disabled' : 'locked');
    let ended = 0;
    for (const other of state.sessions.filter((x) => x.id !== data.session_id)) {
      if (await this.#endSession(tenant, userId, other.id, 'password_changed', actor)) ended++;
    }
    this.#audit.info({ tenant, user_id: userId, sessions_ended: ended }, 'password changed');
    await this.#record(createEvent(PasswordChangedAudit, { category: 'authentication', severity: 'notice', user_id: userId, sessions_ended: ended }, { actor, tenant }));
    return { done: true };
  }

  // ------------------------------------------------------------------------------------------------------------
  // API keys
  // ------------------------------------------------------------------------------------------------------------

  /**
   * A key for the caller, with some of their permissions. Three appends, each settled by expected sequence: the
   * issue on the user's subject (where the permissions are checked against the roles, ordered against a disable or a
   * role change), a slot of the tenant's quota, then the key itself, which every edge follows.
   */
  async createApiKey(caller: TenantCaller, data: CreateApiKeyRequest): Promise<CreatedApiKey> {
    const acting = await this.#require(caller, permissions.apiKeysCreate);
    const beyond = data.permissions.find((p) => !acting.permissions.has(p));
    if (beyond !== undefined) throw new ForbiddenError(beyond);
    const now = Date.now();
    const expiresAt = Date.parse(data.expires_at);
    if (!(expiresAt > now && expiresAt <= now + apiKeyMaxLifetimeMs)) throw new BadRequestError('expires_at must be in the future and at most 365 days ahead');
    const { tenant, userId, actor } = acting;
    const meta: EventMeta = { actor, tenant };
    const keyId = uuidv7();
    const { key, sha256 } = newApiKey(keyId);
    await handleCommand(this.#bus, {
      subject: userSubject(tenant, userId),
      decider: userDecider,
      command: { kind: 'issue_api_key', keyId, permissions: data.permissions, expiresAt },
      meta,
      cache: this.#users,
    });
    await handleCommand(this.#bus, {
      subject: tenantSubject(tenant),
      decider: tenantDecider,
      command: { kind: 'take_api_key_slot', keyId, expiresAt, now, defaultMaxApiKeys: this.#policy.tenantMaxApiKeys },
      meta,
      maxAttempts: seatAttempts,
      cache: this.#tenantStates,
    });
    let created: ApiKeyState;
    try {
      const result = await handleCommand(this.#bus, {
        subject: apiKeySubject(tenant, keyId),
        decider: apiKeyDecider,
        command: {
          kind: 'create',
          data: {
            key_id: keyId,
            user_id: userId,
            name: data.name,
            permissions: [...data.permissions],
            expires_at: new Date(expiresAt).toISOString(),
            rate_limit_per_minute: data.rate_limit_per_minute,
            secret_sha256: sha256,
          },
        },
        meta,
        cache: this.#apiKeys,
      });
      created = result.state;
    } catch (err) {
      // Revoked while being made (its user was disabled meanwhile): the slot goes back.
      if (err instanceof ApiKeyRevokedError) await this.#releaseApiKeySlot(tenant, keyId, actor);
      throw err;
    }
    this.#audit.info({ tenant, user_id: userId, key_id: keyId }, 'API key created');
    await this.#record(
      createEvent(
        ApiKeyCreatedAudit,
        { category: 'administration', severity: 'notice', user_id: userId, key_id: keyId, permissions: [...data.permissions], expires_at: new Date(expiresAt).toISOString() },
        { actor, tenant },
      ),
    );
    return { ...apiKeyView(keyId, created, null, now), key };
  }

  /** The caller's own keys, or with `all` (and api_keys:manage) every key of the tenant; never a secret. */
  async apiKeyList(caller: TenantCaller, all: boolean): Promise<ApiKeyList> {
    const acting = await this.#require(caller, all ? permissions.apiKeysManage : permissions.profileSelf);
    const { state: tenant } = await this.#tenantStates.read(tenantSubject(acting.tenant));
    const now = Date.now();
    const views = await Promise.all(
      [...tenant.apiKeySlots.keys()].map(async (keyId): Promise<ApiKeyView | undefined> => {
        const { state } = await this.#apiKeys.read(apiKeySubject(acting.tenant, keyId));
        if (state.status !== 'active' || (!all && state.userId !== acting.userId)) return undefined;
        return apiKeyView(keyId, state, (await this.#lastUse?.lastUsed(acting.tenant, keyId)) ?? null, now);
      }),
    );
    return { api_keys: views.filter((v) => v !== undefined) };
  }

  /** A key of the caller's own (profile:self), or anyone's in the tenant with api_keys:manage; others are "not found". */
  async revokeApiKey(caller: TenantCaller, keyId: string): Promise<Done> {
    const acting = await this.#acting(caller);
    const { state } = await this.#apiKeys.read(apiKeySubject(acting.tenant, keyId));
    const ownerId = state.userId;
    if (state.status !== 'active' || ownerId === undefined) throw new ApiKeyNotFoundError();
    const own = ownerId === acting.userId;
    await this.#require(caller, own ? permissions.profileSelf : permissions.apiKeysManage).catch(() => Promise.reject(new ApiKeyNotFoundError()));
    await this.#revokeApiKey(acting.tenant, ownerId, keyId, own ? 'owner' : 'admin', 'revoke', acting.actor);
    return { done: true };
  }

  /** Whether this call revoked the key (`forbid` also revokes one not made yet); its quota slot is given back. */
  async #revokeApiKey(tenant: string, ownerId: string, keyId: string, reason: ApiKeyRevocationReason, how: 'revoke' | 'forbid', actor: Actor): Promise<boolean> {
    const { decided } = await decideAndAppend(this.#bus, apiKeySubject(tenant, keyId), apiKeyDecider, { kind: how, reason }, { actor, tenant }, this.#apiKeys);
    await this.#releaseApiKeySlot(tenant, keyId, actor);
    if (decided.length === 0) return false;
    this.#audit.info({ tenant, user_id: ownerId, key_id: keyId, reason }, 'API key revoked');
    await this.#record(
      createEvent(ApiKeyRevokedAudit, { category: 'administration', severity: reason === 'owner' ? 'info' : 'notice', user_id: ownerId, key_id: keyId, reason }, { actor, tenant }),
    );
    return true;
  }

  async #releaseApiKeySlot(tenant: string, keyId: string, actor: Actor): Promise<void> {
    await handleCommand(this.#bus, {
      subject: tenantSubject(tenant),
      decider: tenantDecider,
      command: { kind: 'release_api_key_slot', keyId },
      meta: { actor, tenant },
      maxAttempts: seatAttempts,
      cache: this.#tenantStates,
    });
  }

  // ------------------------------------------------------------------------------------------------------------
  // Administration of users
  // ------------------------------------------------------------------------------------------------------------

  async #administer(by: Acting & Administrator, userId: string, command: UserCommand) {
    const subject = userSubject(by.tenant, userId);
    const result = await decideAndAppend(this.#bus, subject, userDecider, command, { actor: by.actor, tenant: by.tenant }, this.#users);
    this.#users.remember(subject, result.state, result.seq);
    return result;
  }

  /**
   * A disabled user signs in no more: their sessions end (their access tokens stop at every edge) and their API keys
   * are revoked, including one being made at this moment. Run again, it finishes what a crash left undone.
   */
  async disableUser(caller: TenantCaller, userId: string, reason: string): Promise<Done> {
    const by = await this.#require(caller, permissions.usersDisable);
    const { tenant, actor } = by;
    const { state, decided } = await this.#administer(by, userId, { kind: 'disable', reason, by });
    let sessionsEnded = 0;
    let apiKeysRevoked = 0;
    for (const s of state.sessions) if (await this.#endSession(tenant, userId, s.id, 'user_disabled', actor)) sessionsEnded++;
    for (const keyId of state.apiKeys.keys()) if (await this.#revokeApiKey(tenant, userId, keyId, 'user_disabled', 'forbid', actor)) apiKeysRevoked++;
    if (decided.length > 0) {
      this.#admin.info({ tenant, user_id: userId, sessions_ended: sessionsEnded, api_keys_revoked: apiKeysRevoked }, 'user disabled');
      await this.#record(
        createEvent(UserDisabledAudit, { category: 'administration', severity: 'notice', user_id: userId, sessions_ended: sessionsEnded, api_keys_revoked: apiKeysRevoked }, { actor, tenant }),
      );
    }
    return { done: true };
  }

  /** Ends a lockout (and the count of failures) before its time. */
  async unlockUser(caller: TenantCaller, userId: string): Promise<Done> {
    const by = await this.#require(caller, permissions.usersUnlock);
    const { decided } = await this.#administer(by, userId, { kind: 'unlock', now: Date.now(), by });
    if (decided.length > 0) {
      this.#audit.info({ tenant: by.tenant, user_id: userId }, 'account unlocked by an administrator');
      await this.#record(createEvent(AccountUnlockedAudit, { category: 'authentication', severity: 'notice', user_id: userId }, { actor: by.actor, tenant: by.tenant }));
    }
    return { done: true };
  }

  /**
   * Assigns or revokes one role, within the caller's own permissions. A revocation also ends every session started
   * with a role the user no longer has (tokens carry roles) and revokes every API key carrying a permission the user
   * no longer holds; both are checked afresh on each call, so a retry finishes what a crash left undone. A new role
   * takes effect at the next sign-in.
   */
  async changeRole(caller: TenantCaller, userId: string, role: Role, change: 'assigned' | 'revoked'): Promise<UserRoles> {
    const by = await this.#require(caller, permissions.rolesAssign);
    const { tenant, actor } = by;
    const command: UserCommand = change === 'assigned' ? { kind: 'assign_role', role, by } : { kind: 'revoke_role', role, by };
    const { state, decided } = await this.#administer(by, userId, command);
    let sessionsEnded = 0;
    let apiKeysRevoked = 0;
    if (change === 'revoked') {
      for (const s of state.sessions) {
        const session = await this.#sessionState(tenant, s.id);
        if (session.status === 'active' && session.roles.some((r) => !state.roles.includes(r))) {
          if (await this.#endSession(tenant, userId, s.id, 'roles_changed', actor)) sessionsEnded++;
        }
      }
      for (const keyId of apiKeysBeyondRoles(state)) if (await this.#revokeApiKey(tenant, userId, keyId, 'permissions_reduced', 'forbid', actor)) apiKeysRevoked++;
    }
    if (decided.length > 0) {
      this.#admin.info({ tenant, user_id: userId, role, change }, 'role changed');
      await this.#record(
        createEvent(
          RoleChangedAudit,
          { category: 'authorization', severity: 'notice', user_id: userId, role, change, sessions_ended: sessionsEnded, api_keys_revoked: apiKeysRevoked },
          { actor, tenant },
        ),
      );
    }
    return { user_id: userId, roles: [...state.roles] };
  }
}

/** What a list shows of a key: never its secret or hash. */
function apiKeyView(keyId: string, state: ApiKeyState, lastUsedAt: string | null, now: number): ApiKeyView {
  return {
    id: keyId,
    name: state.name ?? '',
    user_id: state.userId ?? '',
    permissions: state.permissions.filter(isPermission),
    created_at: new Date(state.createdAt).toISOString(),
    expires_at: new Date(state.expiresAt).toISOString(),
    rate_limit_per_minute: state.ratePerMinute,
    last_used_at: lastUsedAt,
    status: state.expiresAt > now ? 'active' : 'expired',
  };
}

function totpUriFor(issuer: string, tenant: string, username: string, secret: string): string {
  return totpUri(secret, issuer, `${tenant}:${username}`);
}
