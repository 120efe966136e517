import { platformTenant } from './subjects.ts';

/**
 * What a tenant's plan turns on. Each feature gates what exists to use it: the edge refuses a route of a feature the
 * tenant lacks (403 `VGL_FEATURE_NOT_IN_PLAN`), and the worker that creates the thing checks again. The platform
 * tenant has every feature.
 */
export const features = {
  /** Programs holding API keys: making them, and being let in with one. */
  apiKeys: 'api_keys',
  /** The device registry, the MQTT broker and telemetry. */
  devices: 'devices',
  /** The audit trail through the API (`GET /audit/events`); the CLI reads the streams regardless. */
  auditApi: 'audit_api',
  /** Defining the tenant's own roles (those defined already keep granting what they grant). */
  customRoles: 'custom_roles',
} as const;
export type Feature = (typeof features)[keyof typeof features];

export const featureNames: readonly Feature[] = Object.values(features);

export function isFeature(value: string): value is Feature {
  return featureNames.some((f) => f === value);
}

/** The plans a tenant may be on, and the features each gives. */
export const plans = {
  essentials: [],
  standard: ['api_keys', 'devices'],
  enterprise: ['api_keys', 'devices', 'audit_api', 'custom_roles'],
} as const satisfies Record<string, readonly Feature[]>;
export type Plan = keyof typeof plans;

export const planNames: readonly Plan[] = ['essentials', 'standard', 'enterprise'];

export function isPlan(value: string): value is Plan {
  return planNames.some((p) => p === value);
}

/** A tenant's plan and its own flags beyond it. */
export interface TenantPlan {
  readonly plan: string;
  readonly enabled: readonly string[];
  readonly disabled: readonly string[];
}

/**
 * The features a plan and a tenant's own flags give: the plan's, plus those turned on, minus those turned off, in
 * declaration order. Recorded in the tenant's events, so a later change of what a plan means changes no tenant.
 */
export function featuresOf(tenantPlan: TenantPlan): Feature[] {
  const fromPlan: readonly Feature[] = isPlan(tenantPlan.plan) ? plans[tenantPlan.plan] : [];
  return featureNames.filter((f) => (fromPlan.includes(f) || tenantPlan.enabled.includes(f)) && !tenantPlan.disabled.includes(f));
}

/**
 * Whether a tenant whose events give it `tenantFeatures` has a feature. Absent: a tenant made before plans, which
 * keeps every feature until a plan is set; the platform tenant always has every feature.
 */
export function hasFeature(tenant: string, tenantFeatures: readonly string[] | undefined, feature: Feature): boolean {
  return tenant === platformTenant || tenantFeatures === undefined || tenantFeatures.includes(feature);
}
