import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  CreateTenantRequest,
  identitySubjects,
  parseTenantCreated,
  parseTenantView,
  permissions,
  SuspendTenantBody,
  TenantCreatedResult,
  TenantPlanBody,
  TenantQuotasBody,
  TenantView,
} from '@vigil/identity-contract';
import { TenantId } from '@vigil/schemas';
import Type from 'typebox';
import { problemResponses } from '../problem.ts';
import { callerOf, principalOf } from './authentication.ts';
import type { TenantStatus } from './tenant-status.ts';

export interface TenantRouteOptions {
  readonly bus: Bus;
  readonly tenants: TenantStatus;
  readonly timeoutMs: number;
}

const TenantParams = Type.Object({ id: TenantId }, { additionalProperties: false });

/** Tenants, for platform administrators: creation, suspension and reactivation, quotas. */
export const tenantRoutes: FastifyPluginAsyncTypebox<TenantRouteOptions> = async (app, { bus, tenants, timeoutMs }) => {
  const tags = ['administration'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller: Caller) => request(bus, subject, data, { timeoutMs, parse, caller });

  app.post(
    '/tenants',
    {
      config: { permission: permissions.tenantsCreate },
      schema: { summary: 'Create a tenant and its owner', tags, body: CreateTenantRequest, response: { 201: TenantCreatedResult, ...problemResponses } },
    },
    async (req, reply) => reply.code(201).send(await ask(identitySubjects.createTenant, req.body, parseTenantCreated, callerOf(principalOf(req)))),
  );

  app.post(
    '/tenants/:id/suspend',
    {
      config: { permission: permissions.tenantsManage },
      schema: {
        summary: 'Suspend a tenant',
        description: [
          'No one of the tenant signs in or refreshes a session any more, and every edge refuses its access tokens and',
          'API keys within a second. Its sessions end for good; its API keys work again after a reactivation. The',
          'platform tenant cannot be suspended. Send `{}` or `{"reason": …}`; again on a suspended tenant, a no-op.',
        ].join(' '),
        tags,
        params: TenantParams,
        body: SuspendTenantBody,
        response: { 200: TenantView, ...problemResponses },
      },
    },
    async (req) => {
      const view = await ask(identitySubjects.suspendTenant, { tenant_id: req.params.id, reason: req.body.reason ?? '' }, parseTenantView, callerOf(principalOf(req)));
      // The suspension's own time, not now: again on a suspended tenant (a no-op), now would refuse tokens issued
      // after the real suspension, and after a reactivation in the same second, at this edge only.
      if (view.suspended_at !== undefined) tenants.markSuspended(req.params.id, Date.parse(view.suspended_at));
      return view;
    },
  );

  app.post(
    '/tenants/:id/reactivate',
    {
      config: { permission: permissions.tenantsManage },
      schema: {
        summary: 'Reactivate a suspended tenant',
        description: 'Its users sign in again (the sessions the suspension ended stay ended) and its API keys work again.',
        tags,
        params: TenantParams,
        response: { 200: TenantView, ...problemResponses },
      },
    },
    async (req) => {
      const view = await ask(identitySubjects.reactivateTenant, { tenant_id: req.params.id }, parseTenantView, callerOf(principalOf(req)));
      tenants.markReactivated(req.params.id);
      return view;
    },
  );

  app.patch(
    '/tenants/:id',
    {
      config: { permission: permissions.tenantsManage },
      schema: {
        summary: 'Change a tenant’s quotas',
        description: 'Users, API keys alive and devices registered at once. A lower quota refuses new ones only: what exists stays.',
        tags,
        params: TenantParams,
        body: TenantQuotasBody,
        response: { 200: TenantView, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.changeTenantQuotas, { ...req.body, tenant_id: req.params.id }, parseTenantView, callerOf(principalOf(req))),
  );

  app.put(
    '/tenants/:id/plan',
    {
      config: { permission: permissions.tenantsManage },
      schema: {
        summary: 'Change a tenant’s plan and feature flags',
        description: [
          'The plan gives features (essentials: none beyond identity; standard: api_keys, devices; enterprise: also',
          'audit_api, custom_roles); `features_enabled` and `features_disabled` adjust them for this tenant. Every edge',
          'and the MQTT broker apply the result within a second: a route of a feature the tenant lacks answers 403',
          '`VGL_FEATURE_NOT_IN_PLAN`, its API keys stop working without `api_keys`, its devices are disconnected without',
          '`devices`. What exists is kept and works again when the feature comes back. The platform tenant has no plan.',
        ].join(' '),
        tags,
        params: TenantParams,
        body: TenantPlanBody,
        response: { 200: TenantView, ...problemResponses },
      },
    },
    async (req) => {
      const { plan, features_enabled: enabled = [], features_disabled: disabled = [] } = req.body;
      const view = await ask(
        identitySubjects.changeTenantPlan,
        { tenant_id: req.params.id, plan, features_enabled: enabled, features_disabled: disabled },
        parseTenantView,
        callerOf(principalOf(req)),
      );
      tenants.markFeatures(req.params.id, view.features);
      return view;
    },
  );
};
