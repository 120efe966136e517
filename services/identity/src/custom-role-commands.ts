import { createEvent } from '@vigil/bus';
import {
  customRolesSubject,
  FeatureNotInPlanError,
  features,
  hasFeature,
  permissions,
  platformTenant,
  rolePermissions,
  RoleNotFoundError,
  type DefineRoleRequest,
  type Done,
  type RoleDefinitionResult,
  type RoleList,
  catalogOf,
  type CustomRolesState,
  tenantSubject,
} from '@vigil/identity-contract';
import { CustomRoleChangedAudit } from '@vigil/schemas';
import type { ApiKeyCommands } from './api-key-commands.ts';
import { customRolesDecider, type CustomRoleCommand } from './custom-roles.ts';
import { decideAndAppend, type IdentityContext, type TenantCaller } from './identity-context.ts';
import { userSubject } from './subjects.ts';
import { apiKeysBeyondRoles } from './user.ts';

/**
 * A tenant's custom roles: defined, changed and deleted on the tenant's one roles subject (`roles:manage`), listed
 * with the built-in ones (`users:read`). Access tokens carry role names and every edge follows these events, so a
 * change applies to every holder's next request; what it takes away from an API key is revoked here.
 */
export class CustomRoleCommands {
  readonly #ctx: IdentityContext;
  readonly #apiKeys: ApiKeyCommands;

  constructor(ctx: IdentityContext, apiKeys: ApiKeyCommands) {
    this.#ctx = ctx;
    this.#apiKeys = apiKeys;
  }

  async define(caller: TenantCaller, request: DefineRoleRequest): Promise<RoleDefinitionResult> {
    const ctx = this.#ctx;
    const by = await ctx.require(caller, permissions.rolesManage);
    const { state: tenant } = await ctx.tenantStates.read(tenantSubject(by.tenant));
    if (!hasFeature(by.tenant, tenant.features, features.customRoles)) throw new FeatureNotInPlanError(features.customRoles);
    const command: CustomRoleCommand = { kind: 'define', role: request.role, permissions: request.permissions, description: request.description, by };
    const { state, decided } = await this.#decide(by.tenant, command, caller);
    const role = state.roles.get(request.role);
    if (!role) throw new RoleNotFoundError(request.role);
    const change = decided[0]?.type === 'auth.roles.defined' ? 'defined' : decided.length > 0 ? 'changed' : 'unchanged';
    const revoked = change === 'changed' ? await this.#revokeKeysBeyond(by.tenant, request.role, state, caller) : 0;
    if (change !== 'unchanged') await this.#record(caller, request.role, change, role.permissions, revoked);
    return { role: request.role, built_in: false, permissions: [...role.permissions], description: role.description, change };
  }

  /** The name is retired with the role: users still holding it keep the name, which grants nothing any more. */
  async delete(caller: TenantCaller, roleName: string): Promise<Done> {
    const ctx = this.#ctx;
    const by = await ctx.require(caller, permissions.rolesManage);
    const { state, decided } = await this.#decide(by.tenant, { kind: 'delete', role: roleName, by }, caller);
    const revoked = await this.#revokeKeysBeyond(by.tenant, roleName, state, caller);
    if (decided.length > 0) await this.#record(caller, roleName, 'deleted', [], revoked);
    return { done: true };
  }

  async list(caller: TenantCaller): Promise<RoleList> {
    const ctx = this.#ctx;
    const { tenant } = await ctx.require(caller, permissions.usersRead);
    const { state } = await ctx.customRoles.read(customRolesSubject(tenant));
    const builtIn = Object.entries(rolePermissions)
      .filter(([name]) => name !== 'platform_admin' || tenant === platformTenant)
      .map(([name, granted]) => ({ role: name, built_in: true, permissions: [...granted], description: '' }));
    const custom = [...state.roles].sort(([a], [b]) => a.localeCompare(b)).map(([name, role]) => ({ role: name, built_in: false, permissions: [...role.permissions], description: role.description }));
    return { roles: [...builtIn, ...custom] };
  }

  async #decide(tenant: string, command: CustomRoleCommand, caller: TenantCaller) {
    return decideAndAppend(this.#ctx.bus, customRolesSubject(tenant), customRolesDecider, command, { actor: caller.actor, tenant }, this.#ctx.customRoles);
  }

  /**
   * Revokes the API keys of the role's holders that now carry a permission their roles no longer give. Checked afresh
   * on every call, so repeating the request finishes what a crash between the role's event and here left undone.
   */
  async #revokeKeysBeyond(tenant: string, roleName: string, state: CustomRolesState, caller: TenantCaller): Promise<number> {
    const ctx = this.#ctx;
    const catalog = catalogOf(state);
    let revoked = 0;
    for (const userId of ctx.people.holding(tenant, roleName)) {
      const { state: user } = await ctx.users.read(userSubject(tenant, userId));
      for (const keyId of apiKeysBeyondRoles(user, catalog)) {
        if (await this.#apiKeys.revokeFor(tenant, userId, keyId, 'permissions_reduced', 'forbid', caller.actor)) revoked++;
      }
    }
    return revoked;
  }

  async #record(caller: TenantCaller, role: string, change: 'defined' | 'changed' | 'deleted', granted: readonly string[], revoked: number): Promise<void> {
    this.#ctx.admin.info({ tenant: caller.tenant, role, change, permissions: granted, api_keys_revoked: revoked }, 'custom role changed');
    await this.#ctx.record(
      createEvent(
        CustomRoleChangedAudit,
        { category: 'authorization', severity: 'notice', role, change, permissions: [...granted], api_keys_revoked: revoked },
        { actor: caller.actor, tenant: caller.tenant },
      ),
    );
  }
}
