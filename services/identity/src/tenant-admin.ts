import { createEvent, handleCommand, type Caller } from '@vigil/bus';
import {
  featureNames,
  hasFeature,
  NameTakenError,
  permissions,
  platformTenant,
  TenantExistsError,
  type ChangeTenantPlanRequest,
  type ChangeTenantQuotasRequest,
  type CreateTenantRequest,
  type TenantCreatedResult,
  type TenantView,
  tenantSubject,
} from '@vigil/identity-contract';
import { TenantPlanChangedAudit, TenantQuotaChangedAudit, TenantStatusChangedAudit } from '@vigil/schemas';
import { decideAndAppend, serviceActor, type IdentityContext, type TenantCaller } from './identity-context.ts';
import { claimSubject } from './subjects.ts';
import { tenantDecider, type TenantCommand, type TenantState } from './tenant.ts';
import type { UserAdministration } from './user-admin.ts';

/**
 * Tenants: creation with their owner, and (platform administrators only) suspension, reactivation and quotas. Each
 * change is one append on the tenant's own subject, where seats and API key slots are taken too, so a creation is
 * ordered against a suspension or a lower quota.
 */
export class TenantAdministration {
  readonly #ctx: IdentityContext;
  readonly #users: UserAdministration;

  constructor(ctx: IdentityContext, users: UserAdministration) {
    this.#ctx = ctx;
    this.#users = users;
  }

  async createAsCaller(caller: TenantCaller, data: CreateTenantRequest): Promise<TenantCreatedResult> {
    await this.#ctx.requirePlatform(caller, permissions.tenantsCreate);
    return this.create(data, caller.actor);
  }

  /** A tenant with its first user, its owner. */
  async create(data: CreateTenantRequest, actor: Caller['actor'] = serviceActor): Promise<TenantCreatedResult> {
    const ctx = this.#ctx;
    ctx.checkPassword(data.owner.password, data.owner.username);
    const result = await handleCommand(ctx.bus, {
      subject: tenantSubject(data.tenant_id),
      decider: tenantDecider,
      command: {
        kind: 'create',
        tenantId: data.tenant_id,
        name: data.name,
        maxUsers: data.max_users ?? ctx.policy.tenantMaxUsers,
        maxApiKeys: data.max_api_keys ?? ctx.policy.tenantMaxApiKeys,
        maxDevices: data.max_devices ?? ctx.policy.tenantMaxDevices,
        plan: data.plan ?? ctx.policy.tenantDefaultPlan,
      },
      meta: { actor, tenant: data.tenant_id },
    });
    await ctx.tenants.reach(result.seq);
    const owner = await this.#users.create(data.tenant_id, { ...data.owner, roles: ['owner'] }, actor);
    return { tenant_id: data.tenant_id, owner_user_id: owner.user_id };
  }

  /** The first platform administrator, once; replicas racing here settle it on the username claim. */
  async bootstrapAdmin(username: string, email: string, password: string): Promise<'created' | 'exists'> {
    const ctx = this.#ctx;
    try {
      await handleCommand(ctx.bus, {
        subject: tenantSubject(platformTenant),
        decider: tenantDecider,
        command: {
          kind: 'create',
          tenantId: platformTenant,
          name: 'Vigil platform',
          maxUsers: ctx.policy.tenantMaxUsers,
          maxApiKeys: ctx.policy.tenantMaxApiKeys,
          maxDevices: ctx.policy.tenantMaxDevices,
          plan: ctx.policy.tenantDefaultPlan,
        },
        meta: { actor: serviceActor, tenant: platformTenant },
      });
    } catch (err) {
      if (!(err instanceof TenantExistsError)) throw err;
    }
    const claim = await ctx.bus.jsm.streams.getMessage(ctx.bus.names.stream('AUTH_EVENT'), { last_by_subj: ctx.bus.names.subject(claimSubject(platformTenant, 'username', username)) });
    if (claim) return 'exists';
    try {
      await this.#users.create(platformTenant, { username, email, password, roles: ['platform_admin'] });
      return 'created';
    } catch (err) {
      if (err instanceof NameTakenError) return 'exists';
      throw err;
    }
  }

  /**
   * Suspended, a tenant signs in no more, refreshes no session, and every edge refuses its access tokens and API keys
   * (they follow the tenant events); its sessions end for good: after a reactivation, a session started before it is
   * refused at its next refresh, and edges refuse access tokens issued before the suspension.
   */
  async suspend(caller: TenantCaller, tenantId: string, reason: string): Promise<TenantView> {
    const view = await this.#change(caller, tenantId, { kind: 'suspend', tenantId, reason });
    if (view.changed) await this.#recordStatus(caller, tenantId, 'suspended', reason);
    return view.tenant;
  }

  /** Sign-ins work again; the sessions the suspension ended stay ended; API keys work again. */
  async reactivate(caller: TenantCaller, tenantId: string): Promise<TenantView> {
    const view = await this.#change(caller, tenantId, { kind: 'reactivate', tenantId });
    if (view.changed) await this.#recordStatus(caller, tenantId, 'active');
    return view.tenant;
  }

  /** New quotas, counted from the next creation: users, API keys, and devices (which the device registry enforces). */
  async changeQuotas(caller: TenantCaller, request: ChangeTenantQuotasRequest): Promise<TenantView> {
    const { tenant_id: tenantId, ...quotas } = request;
    const view = await this.#change(caller, tenantId, { kind: 'change_quotas', tenantId, quotas });
    if (view.changed) {
      this.#ctx.admin.info({ tenant: tenantId, ...quotas }, 'tenant quotas changed');
      await this.#ctx.record(createEvent(TenantQuotaChangedAudit, { category: 'administration', severity: 'notice', tenant_id: tenantId, ...quotas }, { actor: caller.actor, tenant: tenantId }));
    }
    return view.tenant;
  }

  /** A new plan and the tenant's own flags; each takes effect at once on every edge, and on every creation from here on. */
  async changePlan(caller: TenantCaller, request: ChangeTenantPlanRequest): Promise<TenantView> {
    const { tenant_id: tenantId, plan, features_enabled: enabled, features_disabled: disabled } = request;
    const view = await this.#change(caller, tenantId, { kind: 'change_plan', tenantId, plan, enabled, disabled });
    if (view.changed) {
      this.#ctx.admin.info({ tenant: tenantId, plan, features: view.tenant.features }, 'tenant plan changed');
      await this.#ctx.record(
        createEvent(TenantPlanChangedAudit, { category: 'administration', severity: 'notice', tenant_id: tenantId, plan, features: view.tenant.features }, { actor: caller.actor, tenant: tenantId }),
      );
    }
    return view.tenant;
  }

  async #change(caller: TenantCaller, tenantId: string, command: TenantCommand): Promise<{ tenant: TenantView; changed: boolean }> {
    const ctx = this.#ctx;
    await ctx.requirePlatform(caller, permissions.tenantsManage);
    // Recorded under the tenant it is about, so that tenant's audit trail shows what was done to it, and by whom.
    const { state, seq, decided } = await decideAndAppend(ctx.bus, tenantSubject(tenantId), tenantDecider, command, { actor: caller.actor, tenant: tenantId }, ctx.tenantStates);
    await ctx.tenants.reach(seq);
    return { tenant: this.#view(tenantId, state), changed: decided.length > 0 };
  }

  async #recordStatus(caller: TenantCaller, tenantId: string, status: 'suspended' | 'active', reason?: string): Promise<void> {
    this.#ctx.admin.warn({ tenant: tenantId, status }, status === 'suspended' ? 'tenant suspended' : 'tenant reactivated');
    await this.#ctx.record(
      createEvent(
        TenantStatusChangedAudit,
        { category: 'administration', severity: 'warning', tenant_id: tenantId, status, ...(reason ? { reason } : {}) },
        { actor: caller.actor, tenant: tenantId },
      ),
    );
  }

  #view(tenantId: string, state: TenantState): TenantView {
    return {
      tenant_id: tenantId,
      name: state.name,
      status: state.suspended ? 'suspended' : 'active',
      ...(state.suspended && state.suspendedAt !== undefined ? { suspended_at: new Date(state.suspendedAt).toISOString() } : {}),
      plan: state.plan ?? 'none',
      features: featureNames.filter((f) => hasFeature(tenantId, state.features, f)),
      max_users: state.maxUsers,
      max_api_keys: state.maxApiKeys ?? this.#ctx.policy.tenantMaxApiKeys,
      max_devices: state.maxDevices ?? null,
      users: state.seats.size,
    };
  }
}
