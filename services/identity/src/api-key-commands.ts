import { BadRequestError, createEvent, handleCommand, type EventMeta } from '@vigil/bus';
import { uuidv7 } from '@vigil/crypto';
import {
  ApiKeyLastUse,
  apiKeyMaxLifetimeMs,
  ApiKeyNotFoundError,
  ApiKeyRevokedError,
  apiKeySubject,
  ForbiddenError,
  isPermission,
  permissions,
  permissionsOf,
  type ApiKeyList,
  type ApiKeyView,
  type CreateApiKeyRequest,
  type CreatedApiKey,
  type Done,
  tenantSubject,
} from '@vigil/identity-contract';
import { ApiKeyCreatedAudit, ApiKeyRevokedAudit, type Actor } from '@vigil/schemas';
import { newApiKey } from './api-key-token.ts';
import { apiKeyDecider, type ApiKeyRevocationReason, type ApiKeyState } from './api-key.ts';
import { busyAttempts, decideAndAppend, type IdentityContext, type TenantCaller } from './identity-context.ts';
import { userSubject } from './subjects.ts';
import { tenantDecider } from './tenant.ts';
import { userDecider } from './user.ts';

/** API keys: made by a signed-in user with some of their permissions, listed without secrets, revoked. */
export class ApiKeyCommands {
  readonly #ctx: IdentityContext;
  #lastUse: ApiKeyLastUse | undefined;

  constructor(ctx: IdentityContext) {
    this.#ctx = ctx;
  }

  async start(): Promise<void> {
    this.#lastUse = await ApiKeyLastUse.open(this.#ctx.bus);
  }

  /**
   * A key for the caller, with some of their permissions. Three appends, each settled by expected sequence: the
   * issue on the user's subject (where the permissions are checked against the roles, ordered against a disable or a
   * role change), a slot of the tenant's quota, then the key itself, which every edge follows.
   */
  async create(caller: TenantCaller, data: CreateApiKeyRequest): Promise<CreatedApiKey> {
    const ctx = this.#ctx;
    // Whether the caller may make this key now: asked first, and again when a change forbade it while it was made.
    const mayMake = async () => {
      const acting = await ctx.require(caller, permissions.apiKeysCreate);
      const beyond = data.permissions.find((p) => !acting.permissions.has(p));
      if (beyond !== undefined) throw new ForbiddenError(beyond);
      return acting;
    };
    const acting = await mayMake();
    const now = Date.now();
    const expiresAt = Date.parse(data.expires_at);
    if (!(expiresAt > now && expiresAt <= now + apiKeyMaxLifetimeMs)) throw new BadRequestError('expires_at must be in the future and at most 365 days ahead');
    const { tenant, userId, actor } = acting;
    const meta: EventMeta = { actor, tenant };
    const keyId = uuidv7();
    const { key, sha256 } = newApiKey(keyId);
    const issued = await handleCommand(ctx.bus, {
      subject: userSubject(tenant, userId),
      decider: userDecider,
      command: { kind: 'issue_api_key', keyId, permissions: data.permissions, expiresAt, catalog: acting.catalog },
      meta,
      cache: ctx.users,
    });
    // The roles were read before the issue landed. A custom role cut down in between has a sweep that may have read
    // this user before the issue: the roles are read again now and the key is forbidden if it carries what they no
    // longer give. A cut-down landing after this read has its sweep read the user after the issue, which revokes it.
    const held: ReadonlySet<string> = permissionsOf(issued.state.roles, await ctx.catalog(tenant));
    const lost = data.permissions.find((p) => !held.has(p));
    if (lost !== undefined) {
      await this.revokeFor(tenant, userId, keyId, 'permissions_reduced', 'forbid', actor);
      throw new ForbiddenError(lost);
    }
    await handleCommand(ctx.bus, {
      subject: tenantSubject(tenant),
      decider: tenantDecider,
      command: { kind: 'take_api_key_slot', keyId, expiresAt, now, defaultMaxApiKeys: ctx.policy.tenantMaxApiKeys },
      meta,
      maxAttempts: busyAttempts,
      cache: ctx.tenantStates,
    });
    let created: ApiKeyState;
    try {
      const result = await handleCommand(ctx.bus, {
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
        cache: ctx.apiKeys,
      });
      created = result.state;
    } catch (err) {
      if (!(err instanceof ApiKeyRevokedError)) throw err;
      // Forbidden while being made, by the sweep of a change that read the issue first (its user disabled or deleted,
      // a role cut down): the slot goes back, and the caller hears why, as when that change lands before the issue.
      await this.#releaseSlot(tenant, keyId, actor);
      await mayMake();
      throw err;
    }
    ctx.audit.info({ tenant, user_id: userId, key_id: keyId }, 'API key created');
    await ctx.record(
      createEvent(
        ApiKeyCreatedAudit,
        { category: 'administration', severity: 'notice', user_id: userId, key_id: keyId, permissions: [...data.permissions], expires_at: new Date(expiresAt).toISOString() },
        { actor, tenant },
      ),
    );
    return { ...apiKeyView(keyId, created, null, now), key };
  }

  /** The caller's own keys, or with `all` (and api_keys:manage) every key of the tenant; never a secret. */
  async list(caller: TenantCaller, all: boolean): Promise<ApiKeyList> {
    const ctx = this.#ctx;
    const acting = await ctx.require(caller, all ? permissions.apiKeysManage : permissions.profileSelf);
    const { state: tenant } = await ctx.tenantStates.read(tenantSubject(acting.tenant));
    const now = Date.now();
    const views = await Promise.all(
      [...tenant.apiKeySlots.keys()].map(async (keyId): Promise<ApiKeyView | undefined> => {
        const { state } = await ctx.apiKeys.read(apiKeySubject(acting.tenant, keyId));
        if (state.status !== 'active' || (!all && state.userId !== acting.userId)) return undefined;
        return apiKeyView(keyId, state, (await this.#lastUse?.lastUsed(acting.tenant, keyId)) ?? null, now);
      }),
    );
    return { api_keys: views.filter((v) => v !== undefined) };
  }

  /** A key of the caller's own (profile:self), or anyone's in the tenant with api_keys:manage; others are "not found". */
  async revoke(caller: TenantCaller, keyId: string): Promise<Done> {
    const ctx = this.#ctx;
    const acting = await ctx.acting(caller);
    const { state } = await ctx.apiKeys.read(apiKeySubject(acting.tenant, keyId));
    const ownerId = state.userId;
    if (state.status !== 'active' || ownerId === undefined) throw new ApiKeyNotFoundError();
    const own = ownerId === acting.userId;
    await ctx.require(caller, own ? permissions.profileSelf : permissions.apiKeysManage).catch(() => Promise.reject(new ApiKeyNotFoundError()));
    await this.revokeFor(acting.tenant, ownerId, keyId, own ? 'owner' : 'admin', 'revoke', acting.actor);
    return { done: true };
  }

  /** Whether this call revoked the key (`forbid` also revokes one not made yet); its quota slot is given back. */
  async revokeFor(tenant: string, ownerId: string, keyId: string, reason: ApiKeyRevocationReason, how: 'revoke' | 'forbid', actor: Actor): Promise<boolean> {
    const ctx = this.#ctx;
    const { decided } = await decideAndAppend(ctx.bus, apiKeySubject(tenant, keyId), apiKeyDecider, { kind: how, reason }, { actor, tenant }, ctx.apiKeys);
    await this.#releaseSlot(tenant, keyId, actor);
    if (decided.length === 0) return false;
    ctx.audit.info({ tenant, user_id: ownerId, key_id: keyId, reason }, 'API key revoked');
    await ctx.record(
      createEvent(ApiKeyRevokedAudit, { category: 'administration', severity: reason === 'owner' ? 'info' : 'notice', user_id: ownerId, key_id: keyId, reason }, { actor, tenant }),
    );
    return true;
  }

  async #releaseSlot(tenant: string, keyId: string, actor: Actor): Promise<void> {
    await handleCommand(this.#ctx.bus, {
      subject: tenantSubject(tenant),
      decider: tenantDecider,
      command: { kind: 'release_api_key_slot', keyId },
      meta: { actor, tenant },
      maxAttempts: busyAttempts,
      cache: this.#ctx.tenantStates,
    });
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
