import type { Bus, FollowedEvent } from '@vigil/bus';
import { hasFeature, platformTenant, tenantEventsFilter, TenantViewBehindError, tenantSubject, type Feature } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import { TenantCreated, TenantPlanChanged, TenantReactivated, TenantSuspended } from '@vigil/schemas';
import { EdgeFeed } from './edge-feed.ts';

export interface TenantStatusOptions {
  readonly bus: Bus;
  readonly logger: Logger;
}

interface KnownTenant {
  readonly suspended: boolean;
  /** When the tenant was last suspended: access tokens issued before it stay refused after a reactivation. */
  readonly suspendedAt?: number;
  /** The features its plan gives; absent for a tenant made before plans (every feature). */
  readonly features?: readonly string[];
}

/**
 * Which tenants are suspended, kept in memory by every edge from the tenant events on AUTH_EVENT (an ordered consumer
 * from the start of the stream, like the API key directory): a suspension reaches every edge within milliseconds and
 * refuses every access token and API key of the tenant, with no bus round trip and no database per request.
 *
 * Why this and not revoking each session at the suspension: one event, whatever the tenant's size, nothing left
 * half-done by a crash, and API keys are covered by the same check (a suspension pauses them: they work again after
 * a reactivation, which a revocation could not undo). The sessions still end for good: the identity worker refuses
 * the refresh of any session started before the reactivation, and this view refuses access tokens issued before the
 * last suspension, until they expire.
 */
export class TenantStatus {
  readonly #tenants = new Map<string, KnownTenant>();
  readonly #feed: EdgeFeed;
  /** Catch-ups under way, one per tenant, however many of its requests wait on it. */
  readonly #learning = new Map<string, Promise<boolean>>();

  constructor(options: TenantStatusOptions) {
    this.#feed = new EdgeFeed({ ...options, filter: tenantEventsFilter, what: 'tenant suspensions', onEvent: (e) => this.#apply(e) });
  }

  /**
   * Resolves once the tenant events already stored are known, or after `maxWaitMs` not to hold a start up. Without the
   * stream yet (an edge that starts before any worker made it), it keeps trying in the background.
   */
  async start(maxWaitMs = 3000): Promise<void> {
    await this.#feed.start(maxWaitMs);
  }

  async stop(): Promise<void> {
    await this.#feed.stop();
  }

  #apply({ event, subject }: FollowedEvent): void {
    // `auth.<tenant>.tenant.<tenant>`: seats and slots ride on the same subject and change nothing here.
    const tenant = subject.split('.')[1];
    if (!tenant) return;
    const known = this.#tenants.get(tenant);
    if (TenantSuspended.is(event)) this.#tenants.set(tenant, { ...known, suspended: true, suspendedAt: Date.parse(event.at) });
    else if (TenantReactivated.is(event)) this.#tenants.set(tenant, { ...known, suspended: false });
    // A tenant made before plans has no features in its creation: it has every one (features left undefined).
    else if (TenantCreated.is(event)) this.#tenants.set(tenant, { suspended: false, ...known, ...(event.data.features ? { features: event.data.features } : {}) });
    else if (TenantPlanChanged.is(event)) this.#tenants.set(tenant, { suspended: false, ...known, features: event.data.features });
  }

  /** Whether this edge's view holds the tenant: any tenant whose creation the feed has reached, and the platform. */
  knows(tenant: string): boolean {
    return tenant === platformTenant || this.#tenants.has(tenant);
  }

  /**
   * Brings the view up to a tenant it does not hold yet, before a credential of it is judged: a tenant created a moment
   * ago through another edge, or any tenant while this edge is still reading the stream at start. Otherwise such a
   * tenant would pass for one with every feature and no suspension until the feed got there. The tenant's last event
   * is read once and the feed awaited up to it. False: the tenant has no events, it does not exist. A feed that cannot
   * get there in time is TenantViewBehindError (503), never a guess.
   */
  learn(tenant: string, timeoutMs = 2000): Promise<boolean> {
    let learning = this.#learning.get(tenant);
    if (!learning) {
      learning = this.#catchUp(tenant, timeoutMs).finally(() => this.#learning.delete(tenant));
      this.#learning.set(tenant, learning);
    }
    return learning;
  }

  async #catchUp(tenant: string, timeoutMs: number): Promise<boolean> {
    // Without the bus this edge cannot know the tenant either: the same 503.
    const exists = await this.#feed.catchUpTo(tenantSubject(tenant), timeoutMs, (cause) => new TenantViewBehindError(tenant, { cause }));
    if (exists && !this.#tenants.has(tenant)) throw new TenantViewBehindError(tenant);
    return exists;
  }

  /**
   * Whether a credential of the tenant is refused: any, while the tenant is suspended; an access token issued (`iat`,
   * whole seconds) before the last suspension, after it.
   */
  refuses(tenant: string, issuedAtSeconds?: number): boolean {
    const known = this.#tenants.get(tenant);
    if (!known) return false;
    if (known.suspended) return true;
    return issuedAtSeconds !== undefined && known.suspendedAt !== undefined && issuedAtSeconds * 1000 < known.suspendedAt;
  }

  /** Whether the tenant's plan gives a feature (a route of one it lacks answers 403); asked only of a tenant it knows. */
  hasFeature(tenant: string, feature: Feature): boolean {
    return hasFeature(tenant, this.#tenants.get(tenant)?.features, feature);
  }

  /** Records a plan change at once (the edge that handled it); the feed does the same on every edge. */
  markFeatures(tenant: string, features: readonly string[]): void {
    this.#tenants.set(tenant, { suspended: false, ...this.#tenants.get(tenant), features });
  }

  /** Records a suspension (of time `at`) at once (the edge that handled it); the feed does the same on every edge. */
  markSuspended(tenant: string, at: number): void {
    this.#tenants.set(tenant, { ...this.#tenants.get(tenant), suspended: true, suspendedAt: at });
  }

  /** Records a reactivation at once (the edge that handled it, so a sign-in right after works here). */
  markReactivated(tenant: string): void {
    const known = this.#tenants.get(tenant);
    if (known) this.#tenants.set(tenant, { ...known, suspended: false });
  }

  /** Resolves once the view has seen an append (tests). */
  async reach(seq: number, timeoutMs?: number): Promise<void> {
    await this.#feed.reach(seq, timeoutMs);
  }
}
