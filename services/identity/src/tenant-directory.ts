import { foldEvents, followEvents, isEventOf, loadAggregate, type Bus, type Following } from '@vigil/bus';
import { tenantEventsFilter, tenantSubject } from '@vigil/identity-contract';
import type { AnyEnvelope } from '@vigil/schemas';
import { evolveTenant, initialTenant, tenantDecider, tenantEvents, type TenantEvent, type TenantState } from './tenant.ts';

/**
 * Every tenant and whether it is suspended, followed from the stream. It answers "may this tenant sign in" (and since
 * when its sessions count) without a read per login; quotas and uniqueness are never decided from it (they are settled
 * by appends). A sign-in racing a suspension on another replica by milliseconds may still open a session: every edge
 * refuses its tokens while the tenant is suspended, and its refresh is refused after the reactivation.
 */
export class TenantDirectory {
  readonly #bus: Bus;
  readonly #tenants = new Map<string, TenantState>();
  #following: Following | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, tenantEventsFilter, ({ event, subject }) => {
      if (!isEventOf(tenantEvents, event)) return;
      const tenant = subject.split('.')[1] ?? '';
      this.#tenants.set(tenant, evolveTenant(this.#tenants.get(tenant) ?? initialTenant, event));
    });
    await this.#following.caughtUp;
  }

  async stop(): Promise<void> {
    await this.#following?.stop();
  }

  /** Waits until the directory has seen an append (after this worker created or suspended a tenant). */
  async reach(seq: number): Promise<void> {
    await this.#following?.reach(seq);
  }

  /** A tenant as this view knows it; one it has not seen yet (made a moment ago through another replica) is read from its subject. */
  async state(tenant: string): Promise<TenantState> {
    const known = this.#tenants.get(tenant);
    if (known) return known;
    const loaded = await loadAggregate(this.#bus, tenantSubject(tenant));
    const isEvent = (e: AnyEnvelope): e is TenantEvent => isEventOf(tenantEvents, e);
    return foldEvents(tenantDecider, isEvent, initialTenant, loaded.events);
  }

  async isActive(tenant: string): Promise<boolean> {
    const state = await this.state(tenant);
    return state.id !== undefined && !state.suspended;
  }
}
