import { isEventOf, type Bus, type FollowedEvent } from '@vigil/bus';
import {
  builtInRoles,
  catalogOf,
  customRoleEvents,
  customRoleEventsFilter,
  evolveCustomRoles,
  initialCustomRoles,
  permissionsOf,
  type CustomRolesState,
  type Permission,
} from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import { EdgeFeed } from './edge-feed.ts';

export interface RoleCatalogsOptions {
  readonly bus: Bus;
  readonly logger: Logger;
}

/**
 * What each role grants in each tenant, kept in memory by every edge from the custom role events on AUTH_EVENT: an
 * access token carries role names, and this turns them into permissions on every request, so a custom role changed
 * or deleted applies to its holders' next request at every edge, with no bus round trip per request.
 */
export class RoleCatalogs {
  readonly #tenants = new Map<string, CustomRolesState>();
  /** Permissions per tenant and role list, dropped whenever that tenant's roles change: most requests reuse one. */
  readonly #resolved = new Map<string, Map<string, ReadonlySet<Permission>>>();
  readonly #feed: EdgeFeed;

  constructor(options: RoleCatalogsOptions) {
    this.#feed = new EdgeFeed({ ...options, filter: customRoleEventsFilter, what: 'custom roles', onEvent: (e) => this.#apply(e) });
  }

  /** Resolves once the roles already stored are known, or after `maxWaitMs` (see EdgeFeed). */
  async start(maxWaitMs = 3000): Promise<void> {
    await this.#feed.start(maxWaitMs);
  }

  async stop(): Promise<void> {
    await this.#feed.stop();
  }

  #apply({ event, subject }: FollowedEvent): void {
    // `auth.<tenant>.roles.<tenant>`
    const tenant = subject.split('.')[1];
    if (!tenant || !isEventOf(customRoleEvents, event)) return;
    this.#tenants.set(tenant, evolveCustomRoles(this.#tenants.get(tenant) ?? initialCustomRoles, event));
    this.#resolved.delete(tenant);
  }

  /** What a principal of `tenant` holding `roles` may do now. */
  permissionsOf(tenant: string, roles: readonly string[]): ReadonlySet<Permission> {
    const key = roles.join(' ');
    let perTenant = this.#resolved.get(tenant);
    const known = perTenant?.get(key);
    if (known) return known;
    const state = this.#tenants.get(tenant);
    const permissions = permissionsOf(roles, state ? catalogOf(state) : builtInRoles);
    if (!perTenant) this.#resolved.set(tenant, (perTenant = new Map()));
    // Bounded: role lists are few per tenant; a flood of made-up ones (they are signed, so only from real tokens) is cut.
    if (perTenant.size < 1000) perTenant.set(key, permissions);
    return permissions;
  }

  /** Resolves once the view has seen an append (tests). */
  async reach(seq: number, timeoutMs?: number): Promise<void> {
    await this.#feed.reach(seq, timeoutMs);
  }
}
