import { createEvent, handleCommand, type Caller, type EventMeta } from '@vigil/bus';
import { hashPassword, open, seal, uuidv7 } from '@vigil/crypto';
import {
  permissions,
  type Done,
  type ListUsersRequest,
  type NewUser,
  type Role,
  type UserCreatedResult,
  type UserPage,
  type UserRoles,
  tenantSubject,
} from '@vigil/identity-contract';
import { AccountUnlockedAudit, RoleChangedAudit, UserDeletedAudit, UserDisabledAudit, UserRestoredAudit, type Actor } from '@vigil/schemas';
import type { ApiKeyCommands } from './api-key-commands.ts';
import { claimDecider } from './claim.ts';
import { busyAttempts, decideAndAppend, serviceActor, type Acting, type IdentityContext, type TenantCaller } from './identity-context.ts';
import type { SessionCommands } from './session-commands.ts';
import type { RevocationReason } from './session.ts';
import { claimSubject, nameHash, userSubject } from './subjects.ts';
import { tenantDecider } from './tenant.ts';
import { statusOf } from './user-directory.ts';
import { requireGrantable } from './custom-roles.ts';
import { apiKeysBeyondRoles, decideUser, userDecider, type Administrator, type UserCommand, type UserState } from './user.ts';

/**
 * The users of a tenant: creation (a seat of the quota, then unique names, each settled on the bus), and what an
 * administrator does to them (disable, unlock, roles, soft delete and restore), and the list.
 */
export class UserAdministration {
  readonly #ctx: IdentityContext;
  readonly #sessions: SessionCommands;
  readonly #apiKeys: ApiKeyCommands;

  constructor(ctx: IdentityContext, sessions: SessionCommands, apiKeys: ApiKeyCommands) {
    this.#ctx = ctx;
    this.#sessions = sessions;
    this.#apiKeys = apiKeys;
  }

  async createAsCaller(caller: TenantCaller, data: NewUser): Promise<UserCreatedResult> {
    const acting = await this.#ctx.require(caller, permissions.usersCreate);
    requireGrantable(acting, data.roles);
    return this.create(caller.tenant, data, caller.actor);
  }

  /**
   * A user of a tenant: a seat of its quota, then the username, then the e-mail address, each settled by an append
   * with expected sequence (the first writer wins); a step that loses gives back what the earlier steps took.
   */
  async create(tenant: string, data: NewUser, actor: Caller['actor'] = serviceActor): Promise<UserCreatedResult> {
    const ctx = this.#ctx;
    if (data.password !== undefined) ctx.checkPassword(data.password, data.username);
    const passwordHash = data.password === undefined ? undefined : await hashPassword(data.password);
    const { password: _clear, ...rest } = data;
    return this.make(tenant, uuidv7(), { ...rest, ...(passwordHash ? { passwordHash } : {}) }, actor);
  }

  /**
   * `create` with the user id and the password hash given: every step is a no-op once done for this id (a seat or a
   * name this user holds already, a user made already, whose password only is set if a crash left it unset), so
   * making the same user again finishes what an interrupted run left, never a second user. An accepted invitation
   * makes its user this way.
   */
  async make(tenant: string, userId: string, data: Omit<NewUser, 'password'> & { readonly passwordHash?: string }, actor: Actor): Promise<UserCreatedResult> {
    const ctx = this.#ctx;
    const { passwordHash } = data;
    const meta: EventMeta = { actor, tenant };
    // A tenant's seats are one subject: concurrent creations in one tenant queue up on it, hence more attempts.
    await this.#seat(tenant, userId, 'take', actor);
    const taken: string[] = [];
    try {
      for (const [kind, value, what] of [
        ['username', data.username, 'username'],
        ['email', data.email, 'e-mail address'],
      ] as const) {
        const subject = claimSubject(tenant, kind, value);
        await handleCommand(ctx.bus, { subject, decider: claimDecider, command: { kind: 'claim', userId, what }, meta });
        taken.push(subject);
      }
    } catch (err) {
      for (const subject of taken) await handleCommand(ctx.bus, { subject, decider: claimDecider, command: { kind: 'release', userId }, meta });
      await this.#seat(tenant, userId, 'release', actor);
      throw err;
    }
    const email = seal(ctx.ring, Buffer.from(data.email, 'utf8'), `identity.email:${userId}`);
    const { seq } = await handleCommand(ctx.bus, {
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
    // Read-your-writes: the list this replica answers shows the new user at once.
    await ctx.people.reach(seq);
    ctx.logger.info({ tenant, user_id: userId, category: 'administration' }, 'user created');
    return { user_id: userId, tenant };
  }

  async #seat(tenant: string, userId: string, change: 'take' | 'release', actor: Actor): Promise<void> {
    await handleCommand(this.#ctx.bus, {
      subject: tenantSubject(tenant),
      decider: tenantDecider,
      command: change === 'take' ? { kind: 'take_seat', userId } : { kind: 'release_seat', userId },
      meta: { actor, tenant },
      maxAttempts: busyAttempts,
      cache: this.#ctx.tenantStates,
    });
  }

  async #administer(by: Acting & Administrator, userId: string, command: UserCommand) {
    const subject = userSubject(by.tenant, userId);
    const result = await decideAndAppend(this.#ctx.bus, subject, userDecider, command, { actor: by.actor, tenant: by.tenant }, this.#ctx.users);
    this.#ctx.users.remember(subject, result.state, result.seq);
    return result;
  }

  /**
   * Every session of the user ends (including one whose sign-in is racing this: it never starts) and every API key
   * is revoked (including one being made now). Each step is a no-op once done, so a retry finishes a crashed run.
   */
  async #cutOff(by: Acting, userId: string, state: UserState, reason: RevocationReason & ('user_disabled' | 'user_deleted')): Promise<{ sessions: number; apiKeys: number }> {
    const { tenant, actor } = by;
    let sessions = 0;
    let apiKeys = 0;
    for (const s of state.sessions) if (await this.#sessions.end(tenant, userId, s.id, reason, actor, 'forbid')) sessions++;
    for (const keyId of state.apiKeys.keys()) if (await this.#apiKeys.revokeFor(tenant, userId, keyId, reason, 'forbid', actor)) apiKeys++;
    return { sessions, apiKeys };
  }

  /** A disabled user signs in no more: their sessions end (their access tokens stop at every edge) and their API keys are revoked. */
  async disable(caller: TenantCaller, userId: string, reason: string): Promise<Done> {
    const by = await this.#ctx.require(caller, permissions.usersDisable);
    const { tenant, actor } = by;
    const { state, decided } = await this.#administer(by, userId, { kind: 'disable', reason, by });
    const ended = await this.#cutOff(by, userId, state, 'user_disabled');
    if (decided.length > 0) {
      this.#ctx.admin.info({ tenant, user_id: userId, sessions_ended: ended.sessions, api_keys_revoked: ended.apiKeys }, 'user disabled');
      await this.#ctx.record(
        createEvent(UserDisabledAudit, { category: 'administration', severity: 'notice', user_id: userId, sessions_ended: ended.sessions, api_keys_revoked: ended.apiKeys }, { actor, tenant }),
      );
    }
    return { done: true };
  }

  /**
   * Soft delete: like a disable (sessions end, API keys are revoked), and the user is gone from sign-in and from
   * administration but a restore; their seat of the quota is given back. Their names stay claimed, so a restore
   * always finds them free.
   */
  async delete(caller: TenantCaller, userId: string, reason: string): Promise<Done> {
    const by = await this.#ctx.require(caller, permissions.usersDelete);
    const { tenant, actor } = by;
    const { state, decided } = await this.#administer(by, userId, { kind: 'delete', reason, by });
    const ended = await this.#cutOff(by, userId, state, 'user_deleted');
    await this.#seat(tenant, userId, 'release', actor);
    if (decided.length > 0) {
      this.#ctx.admin.info({ tenant, user_id: userId, sessions_ended: ended.sessions, api_keys_revoked: ended.apiKeys }, 'user deleted');
      await this.#ctx.record(
        createEvent(UserDeletedAudit, { category: 'administration', severity: 'notice', user_id: userId, sessions_ended: ended.sessions, api_keys_revoked: ended.apiKeys }, { actor, tenant }),
      );
    }
    return { done: true };
  }

  /**
   * A deleted user back, with no session (they sign in again) and no API key (those were revoked for good). The seat is
   * taken first, so a tenant at its user quota refuses the restore; it is given back if the restore is then refused.
   */
  async restore(caller: TenantCaller, userId: string): Promise<Done> {
    const by = await this.#ctx.require(caller, permissions.usersDelete);
    const { tenant, actor } = by;
    // Who may restore whom is decided before a seat is taken: decideUser throws what the append would.
    const { state: now } = await this.#ctx.users.read(userSubject(tenant, userId));
    if (decideUser({ kind: 'restore', by }, now).length === 0) return { done: true };
    await this.#seat(tenant, userId, 'take', actor);
    const { decided } = await this.#administer(by, userId, { kind: 'restore', by }).catch(async (err: unknown) => {
      await this.#seat(tenant, userId, 'release', actor);
      throw err;
    });
    if (decided.length > 0) {
      this.#ctx.admin.info({ tenant, user_id: userId }, 'user restored');
      await this.#ctx.record(createEvent(UserRestoredAudit, { category: 'administration', severity: 'notice', user_id: userId }, { actor, tenant }));
    }
    return { done: true };
  }

  /** Ends a lockout (and the count of failures) before its time. */
  async unlock(caller: TenantCaller, userId: string): Promise<Done> {
    const by = await this.#ctx.require(caller, permissions.usersUnlock);
    const { decided } = await this.#administer(by, userId, { kind: 'unlock', now: Date.now(), by });
    if (decided.length > 0) {
      this.#ctx.audit.info({ tenant: by.tenant, user_id: userId }, 'account unlocked by an administrator');
      await this.#ctx.record(createEvent(AccountUnlockedAudit, { category: 'authentication', severity: 'notice', user_id: userId }, { actor: by.actor, tenant: by.tenant }));
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
    const by = await this.#ctx.require(caller, permissions.rolesAssign);
    const { tenant, actor } = by;
    const command: UserCommand = change === 'assigned' ? { kind: 'assign_role', role, by } : { kind: 'revoke_role', role, by };
    const { state, decided } = await this.#administer(by, userId, command);
    let sessionsEnded = 0;
    let apiKeysRevoked = 0;
    if (change === 'revoked') {
      for (const s of state.sessions) {
        const session = await this.#sessions.state(tenant, s.id);
        if (session.status === 'active' && session.roles.some((r) => !state.roles.includes(r))) {
          if (await this.#sessions.end(tenant, userId, s.id, 'roles_changed', actor)) sessionsEnded++;
        }
      }
      for (const keyId of apiKeysBeyondRoles(state, by.catalog)) if (await this.#apiKeys.revokeFor(tenant, userId, keyId, 'permissions_reduced', 'forbid', actor)) apiKeysRevoked++;
    }
    if (decided.length > 0) {
      this.#ctx.admin.info({ tenant, user_id: userId, role, change }, 'role changed');
      await this.#ctx.record(
        createEvent(
          RoleChangedAudit,
          { category: 'authorization', severity: 'notice', user_id: userId, role, change, sessions_ended: sessionsEnded, api_keys_revoked: apiKeysRevoked },
          { actor, tenant },
        ),
      );
    }
    return { user_id: userId, roles: [...state.roles] };
  }

  /** One page of the users of the caller's tenant, from the in-memory directory; e-mail addresses opened for the page only. */
  async list(caller: TenantCaller, request: ListUsersRequest): Promise<UserPage> {
    const ctx = this.#ctx;
    const { tenant } = await ctx.require(caller, permissions.usersRead);
    const page = ctx.people.page(tenant, { limit: request.limit, ...(request.after === undefined ? {} : { after: request.after }), ...(request.status ? { status: request.status } : {}) });
    const now = Date.now();
    return {
      users: page.users.map((u) => ({
        id: u.id,
        username: u.username,
        email: open(ctx.ring, { kekId: u.email.kek_id, data: Buffer.from(u.email.sealed, 'base64') }, `identity.email:${u.id}`).toString('utf8'),
        roles: [...u.roles],
        status: statusOf(u),
        locked_until: u.lockedUntil !== undefined && u.lockedUntil > now ? new Date(u.lockedUntil).toISOString() : null,
        mfa: u.mfa,
        created_at: u.createdAt,
      })),
      next: page.next,
    };
  }
}
