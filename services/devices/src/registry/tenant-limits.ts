import { followEvents, streamForSubject, type Bus, type Following } from '@vigil/bus';
import { TenantCreated, TenantQuotaChanged, TenantReactivated, TenantSuspended, type AnyEnvelope } from '@vigil/schemas';

/**
 * Every tenant's own aggregate on AUTH_EVENT, `auth.<tenant>.tenant.<tenant>`, where identity records a tenant's
 * quotas and suspensions (the identity contract's `tenantEventsFilter`; a service does not import another's contract).
 */
const tenantEventsFilter = 'auth.*.tenant.*';

/** What the registry needs of a tenant: whether it may register devices, and how many at once. */
export interface TenantLimit {
  /** Known to identity. An unknown tenant (a TALQ tenant set by configuration, tests) has no quota and is not suspended. */
  readonly known: boolean;
  readonly suspended: boolean;
  /** Absent: no device quota (a tenant made before device quotas, until a platform administrator sets one). */
  readonly maxDevices?: number;
}

export const unknownTenant: TenantLimit = { known: false, suspended: false };

/** Applies one event of a tenant's subject; seats, API key slots and anything else change nothing here. */
export function evolveTenantLimit(limit: TenantLimit, event: AnyEnvelope): TenantLimit {
  if (TenantCreated.is(event)) {
    const max = event.data.max_devices;
    return { ...limit, known: true, ...(max === undefined ? {} : { maxDevices: max }) };
  }
  if (TenantQuotaChanged.is(event)) {
    const max = event.data.max_devices;
    return max === undefined ? limit : { ...limit, maxDevices: max };
  }
  if (TenantSuspended.is(event)) return { ...limit, suspended: true };
  if (TenantReactivated.is(event)) return { ...limit, suspended: false };
  return limit;
}

/**
 * Every tenant's device quota and suspension, in memory, followed from the tenant events identity appends (an ordered
 * consumer from the start of AUTH_EVENT's tenant subjects). It says how many devices a tenant may hold; whether one
 * more fits is settled by the slot aggregate (`device-slots.ts`), never by this view.
 */
export class TenantLimits {
  readonly #bus: Bus;
  readonly #tenants = new Map<string, TenantLimit>();
  readonly #suspensionListeners = new Set<(tenant: string) => void>();
  #following: Following | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, tenantEventsFilter, ({ event, subject }) => {
      const tenant = subject.split('.')[1];
      if (!tenant) return;
      const before = this.#tenants.get(tenant) ?? unknownTenant;
      const after = evolveTenantLimit(before, event);
      this.#tenants.set(tenant, after);
      if (after.suspended && !before.suspended) for (const listener of this.#suspensionListeners) listener(tenant);
    });
    await this.#following.caughtUp;
  }

  async stop(): Promise<void> {
    await this.#following?.stop();
  }

  /** Whether a tenant is suspended as this view has it (a moment behind the stream): for gates that cannot wait. */
  isSuspended(tenant: string): boolean {
    return this.#tenants.get(tenant)?.suspended === true;
  }

  /** Told of each tenant as it is suspended, so that what it has open (device connections) is closed at once. */
  onSuspended(listener: (tenant: string) => void): () => void {
    this.#suspensionListeners.add(listener);
    return () => this.#suspensionListeners.delete(listener);
  }

  /** Resolves once the view has seen an append (tests). */
  async reach(seq: number, timeoutMs?: number): Promise<void> {
    await this.#following?.reach(seq, timeoutMs);
  }

  /**
   * A tenant as of its latest event: one direct read of the subject's last sequence, then (rarely) a wait until the
   * view has applied it. So a registration right after a quota change or a suspension is decided under it, on any
   * replica, while the tenant's subject (every seat and API key slot) is never read again.
   */
  async of(tenant: string): Promise<TenantLimit> {
    const bus = this.#bus;
    const subject = `auth.${tenant}.tenant.${tenant}`;
    const last = await bus.jsm.streams.getMessage(bus.names.stream(streamForSubject(subject).name), { last_by_subj: bus.names.subject(subject) });
    if (!last) return unknownTenant;
    if (this.#following && this.#following.lastSeq() < last.seq) await this.#following.reach(last.seq);
    return this.#tenants.get(tenant) ?? unknownTenant;
  }
}
