import { foldEvents, followEvents, isEventOf, loadAggregate, type Bus, type Following } from '@vigil/bus';
import type { AnyEnvelope } from '@vigil/schemas';
import { tenantEventsFilter, tenantSubject } from './subjects.ts';
import { evolveTenant, initialTenant, tenantDecider, tenantEvents, type TenantEvent, type TenantState } from './tenant.ts';

/**
 * Every tenant and whether it is suspended, followed from the stream. It answers "may this tenant sign in" without a
 * read per login; quotas and uniqueness are never decided from it (they are settled by appends).
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

  /** A tenant this view has not seen yet (created a moment ago through another replica) is read from its subject. */
  async isActive(tenant: string): Promise<boolean> {
    let state = this.#tenants.get(tenant);
    if (!state) {
      const loaded = await loadAggregate(this.#bus, tenantSubject(tenant));
      const isEvent = (e: AnyEnvelope): e is TenantEvent => isEventOf(tenantEvents, e);
      state = foldEvents(tenantDecider, isEvent, initialTenant, loaded.events);
    }
    return state.id !== undefined && !state.suspended;
  }
}
