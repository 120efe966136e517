import { AggregateCache, append, handleCommand, type Bus, type Caller, type Decider, type EventDraft, type EventMeta } from '@vigil/bus';
import type { KekRing } from '@vigil/crypto';
import {
  apiKeySubject,
  customRolesSubject,
  ForbiddenError,
  PasswordPolicyError,
  permissionsOf,
  platformTenant,
  TokenInvalidError,
  type Permission,
  type Role,
  type RoleCatalog,
  type TokenPair,
  catalogOf,
  type CustomRoleEvent,
  type CustomRolesState,
} from '@vigil/identity-contract';
import { securityLogger, type Logger } from '@vigil/log';
import type { Actor, AnyEnvelope } from '@vigil/schemas';
import { customRolesDecider, type CustomRoleCommand } from './custom-roles.ts';
import { apiKeyDecider, isUsable, type ApiKeyCommand, type ApiKeyEvent, type ApiKeyState } from './api-key.ts';
import { passwordProblem, type PasswordPolicy } from './password-policy.ts';
import { sessionDecider, type SessionCommand, type SessionEvent, type SessionState } from './session.ts';
import type { SigningKeys } from './signing-keys.ts';
import { userSubject } from './subjects.ts';
import { TenantDirectory } from './tenant-directory.ts';
import { tenantDecider, type TenantCommand, type TenantEvent, type TenantState } from './tenant.ts';
import { TokenIssuer, type TokenSettings } from './token-issuer.ts';
import { UserDirectory } from './user-directory.ts';
import { userDecider, type Administrator, type LockoutPolicy, type UserCommand, type UserEvent, type UserState } from './user.ts';

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
  /** Devices registered at once per tenant, for tenants whose creation names no quota. */
  readonly tenantMaxDevices: number;
  /** The plan of a tenant whose creation names none, and of tenants made before plans. */
  readonly tenantDefaultPlan: string;
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

export const serviceActor = { kind: 'service', id: 'identity' } as const;
/** Attempts for subjects many requests share at once (a tenant's seats, one user's sign-ins): each must be counted, not refused. */
export const busyAttempts = 64;

/** A caller of a tenant, as the edge authenticated them: a signed-in user, or an API key. */
export type TenantCaller = Caller & { tenant: string };

/** Who acts, once the worker has checked it: the user, and when through an API key, the key and what it carries. */
export interface Acting {
  readonly tenant: string;
  readonly userId: string;
  readonly actor: Actor;
  readonly apiKey?: { readonly id: string; readonly permissions: ReadonlySet<string> };
}

/** handleCommand, also returning what the final (appended) decision was: the outcome of an attempt is in its events. */
export async function decideAndAppend<Command, State, Event extends AnyEnvelope>(
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
  const result = await handleCommand(bus, { subject, decider: capturing, command, meta, maxAttempts: busyAttempts, ...(cache ? { cache } : {}) });
  return { state: result.state, seq: result.seq, decided };
}

/**
 * What every part of the identity worker shares: the bus, keys and policy, the aggregate caches, the tenant and user
 * directories, the security log, and the checks of who a caller is and what they may do.
 */
export class IdentityContext {
  readonly bus: Bus;
  readonly ring: KekRing;
  readonly keys: SigningKeys;
  readonly policy: IdentityPolicy;
  readonly logger: Logger;
  /** Security events of sign-in and credentials (category authentication). */
  readonly audit: Logger;
  /** Security events of administration. */
  readonly admin: Logger;
  readonly tokens: TokenIssuer;
  readonly users: AggregateCache<UserCommand, UserState, UserEvent>;
  readonly sessions: AggregateCache<SessionCommand, SessionState, SessionEvent>;
  readonly apiKeys: AggregateCache<ApiKeyCommand, ApiKeyState, ApiKeyEvent>;
  readonly tenantStates: AggregateCache<TenantCommand, TenantState, TenantEvent>;
  readonly customRoles: AggregateCache<CustomRoleCommand, CustomRolesState, CustomRoleEvent>;
  readonly tenants: TenantDirectory;
  readonly people: UserDirectory;

  constructor(options: IdentityWorkerOptions) {
    this.bus = options.bus;
    this.ring = options.ring;
    this.keys = options.keys;
    this.policy = options.policy;
    this.logger = options.logger;
    this.audit = securityLogger(options.logger, 'authentication');
    this.admin = securityLogger(options.logger, 'administration');
    this.tokens = new TokenIssuer(options.keys, options.policy.tokens);
    this.users = new AggregateCache(options.bus, userDecider);
    this.sessions = new AggregateCache(options.bus, sessionDecider);
    this.apiKeys = new AggregateCache(options.bus, apiKeyDecider);
    this.tenantStates = new AggregateCache(options.bus, tenantDecider);
    this.customRoles = new AggregateCache(options.bus, customRolesDecider);
    this.tenants = new TenantDirectory(options.bus);
    this.people = new UserDirectory(options.bus);
  }

  /** A security event onto AUDIT; a failure to record it is logged, and never turns an answer into a 500. */
  async record(event: AnyEnvelope & { tenant?: string; data: { category: string } }): Promise<void> {
    try {
      await append(this.bus, `audit.${event.tenant ?? '_platform'}.${event.data.category}`, event);
    } catch (err) {
      this.logger.error({ err, type: event.type }, 'could not record a security event on AUDIT');
    }
  }

  checkPassword(password: string, username: string): void {
    const problem = passwordProblem(password, this.policy.password, { username });
    if (problem) throw new PasswordPolicyError(problem);
  }

  /**
   * Who a caller is: a user as such, or the user an API key acts for, once the key is checked to be usable now; never
   * anyone of a suspended tenant (the edges refuse them first; this is the worker's own check).
   */
  async acting(caller: TenantCaller): Promise<Acting> {
    const { tenant, actor } = caller;
    if (!(await this.tenants.isActive(tenant))) throw new TokenInvalidError();
    if (actor.kind === 'user') return { tenant, userId: actor.id, actor };
    if (actor.kind !== 'api_key') throw new TokenInvalidError();
    const { state } = await this.apiKeys.read(apiKeySubject(tenant, actor.id));
    if (!isUsable(state, Date.now()) || state.userId === undefined) throw new TokenInvalidError();
    return { tenant, userId: state.userId, actor, apiKey: { id: actor.id, permissions: new Set(state.permissions) } };
  }

  /**
   * The caller's permissions as the user's own aggregate holds them (narrowed to an API key's), when they include
   * `permission`: the worker does not take the edge's word alone.
   */
  async require(caller: TenantCaller, permission: Permission): Promise<Acting & Administrator> {
    const acting = await this.acting(caller);
    const { state } = await this.users.read(userSubject(acting.tenant, acting.userId));
    if (state.id === undefined || state.disabled || state.deleted) throw new ForbiddenError(permission);
    const key = acting.apiKey;
    const catalog = await this.catalog(acting.tenant);
    const held: ReadonlySet<string> = new Set([...permissionsOf(state.roles, catalog)].filter((p) => !key || key.permissions.has(p)));
    if (!held.has(permission)) throw new ForbiddenError(permission);
    return { ...acting, permissions: held, catalog };
  }

  /** What each role of a tenant grants now: the built-in roles and its custom roles (read from their subject). */
  async catalog(tenant: string): Promise<RoleCatalog> {
    const { state } = await this.customRoles.read(customRolesSubject(tenant));
    return catalogOf(state);
  }

  /** `require`, for what only platform administrators do (tenants): a caller of any other tenant is refused first. */
  async requirePlatform(caller: TenantCaller, permission: Permission): Promise<Acting & Administrator> {
    if (caller.tenant !== platformTenant) throw new ForbiddenError(permission);
    return this.require(caller, permission);
  }

  async tokenPair(tenant: string, userId: string, sessionId: string, roles: readonly Role[], refreshToken: string): Promise<TokenPair> {
    return {
      status: 'authenticated',
      token_type: 'Bearer',
      access_token: await this.tokens.accessToken({ userId, tenant, sessionId, roles }),
      expires_in: this.policy.tokens.accessTtlSeconds,
      refresh_token: refreshToken,
      session_id: sessionId,
    };
  }
}
