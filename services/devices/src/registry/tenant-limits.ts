import { followEvents, streamForSubject, type Bus, type Following } from '@vigil/bus';
import { TenantCreated, TenantPlanChanged, TenantQuotaChanged, TenantReactivated, TenantSuspended, type AnyEnvelope } from '@vigil/schemas';

/**
 * Every tenant's own aggregate on AUTH_EVENT, `auth.<tenant>.tenant.<tenant>`, where identity records a tenant's
 * quotas and suspensions (the identity contract's `tenantEventsFilter`; a service does not import another's contract).
 */
const tenantEventsFilter = 'auth.*.tenant.*';
/** The feature of a tenant's plan that devices need (identity's `features.devices`), and the tenant that has every one. */
const devicesFeature = 'devices';
const platformTenant = 'platform';

/** Why a tenant's devices are refused: suspended, or its plan lacks devices. */
export type TenantRefusal = 'tenant_suspended' | 'tenant_not_entitled';

/** What the registry needs of a tenant: whether it may register devices, and how many at once. */
export interface TenantLimit {
  /** Known to identity. An unknown tenant (a TALQ tenant set by configuration, tests) has no quota and is not suspended. */
  readonly known: boolean;
  readonly suspended: boolean;
  /** The tenant's plan includes devices (tenants made before plans have every feature). */
  readonly entitled: boolean;
  /** Absent: no device quota (a tenant made before device quotas, until a platform administrator sets one). */
  readonly maxDevices?: number;
}

export const unknownTenant: TenantLimit = { known: false, suspended: false, entitled: true };

/** Applies one event of a tenant's subject; seats, API key slots and anything else change nothing here. */
export function evolveTenantLimit(limit: TenantLimit, event: AnyEnvelope): TenantLimit {
  if (TenantCreated.is(event)) {
    const { max_devices: max, features, tenant_id: tenant } = event.data;
    const entitled = tenant === platformTenant || features === undefined || features.includes(devicesFeature);
    return { ...limit, known: true, entitled, ...(max === undefined ? {} : { maxDevices: max }) };
  }
  if (TenantPlanChanged.is(event)) return { ...limit, entitled: event.data.features.includes(devicesFeature) };
  if (TenantQuotaChanged.is(event)) {
    const max = event.data.max_devices;
    return max === undefined ? limit : { ...limit, maxDevices: max };
  }
  if (TenantSuspended.is(event)) return { ...limit, suspended: true };
  if (TenantReactivated.is(event)) return { ...limit, suspended: false };
  return limit;
}

export function refusalOf(limit: TenantLimit): TenantRefusal | undefined {
  if (limit.suspended) return 'tenant_suspended';
  return limit.entitled ? undefined : 'tenant_not_entitled';
}

/**
 * Every tenant's device quota and suspension, in memory, followed from the tenant events identity appends (an ordered
 * consumer from the start of AUTH_EVENT's tenant subjects). It says how many devices a tenant may hold; whether one
 * more fits is settled by the slot aggregate (`device-slots.ts`), never by this view.
 */
export class TenantLimits {
  readonly #bus: Bus;
  readonly #tenants = new Map<string, TenantLimit>();
  readonly #refusalListeners = new Set<(tenant: string, why: TenantRefusal) => void>();
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
      const why = refusalOf(after);
      if (why && !refusalOf(before)) for (const listener of this.#refusalListeners) listener(tenant, why);
    });
    await this.#following.caughtUp;
  }

  async stop(): Promise<void> {
    await this.#following?.stop();
  }

  /** Why a tenant's devices are refused, as this view has it (a moment behind the stream): for gates that cannot wait. */
  refusal(tenant: string): TenantRefusal | undefined {
    const limit = this.#tenants.get(tenant);
    return limit ? refusalOf(limit) : undefined;
  }

  /** Told of each tenant as its devices become refused, so that what it has open (device connections) is closed at once. */
  onRefused(listener: (tenant: string, why: TenantRefusal) => void): () => void {
    this.#refusalListeners.add(listener);
    return () => this.#refusalListeners.delete(listener);
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
