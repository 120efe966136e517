// Given events, when a command, then events (or a refusal): custom roles and tenant plans, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '@vigil/config';
import {
  builtInRoles,
  catalogOf,
  FeatureNotInPlanError,
  ForbiddenError,
  permissionsOf,
  planNames,
  RoleNameUnavailableError,
  RoleNotFoundError,
  TenantStateError,
  type Permission,
  type Role,
} from '@vigil/identity-contract';
import { customRolesDecider, maxCustomRoles, requireGrantable } from '../src/custom-roles.ts';
import { tenantDecider } from '../src/tenant.ts';
import { apiKeysBeyondRoles, userDecider, type Administrator } from '../src/user.ts';
import { given, types, when } from './given.ts';

const u1 = '01890a5d-ac96-774b-bcce-b302099a8057';
const u2 = '01890a5d-ac96-774b-bcce-b302099a8058';
const k1 = '01890a5d-ac96-774b-bcce-b302099a805a';
const k2 = '01890a5d-ac96-774b-bcce-b302099a805b';
const by = (roles: Role[], userId = u1): Administrator => ({ userId, permissions: permissionsOf(roles), catalog: builtInRoles });
const defined = (role: string, permissions: string[]) => ({ type: 'auth.roles.defined', v: 1, data: { role, permissions, description: '' } });
const deleted = (role: string) => ({ type: 'auth.roles.deleted', v: 1, data: { role } });
const define = (role: string, permissions: Permission[], admin = by(['owner'])) => ({ kind: 'define', role, permissions, description: '', by: admin }) as const;

describe('custom roles', () => {
  test('given none, when an owner defines one within their permissions, then defined; again the same, nothing; changed, changed', () => {
    assert.deepEqual(
      when(customRolesDecider, given(customRolesDecider, []), define('field_tech', ['devices:read', 'devices:write'])).map((d) => [d.type, d.data]),
      [['auth.roles.defined', { role: 'field_tech', permissions: ['devices:read', 'devices:write'], description: '' }]],
    );
    const state = given(customRolesDecider, [defined('field_tech', ['devices:read', 'devices:write'])]);
    assert.deepEqual(when(customRolesDecider, state, define('field_tech', ['devices:write', 'devices:read'])), [], 'the same set in another order is no change');
    assert.deepEqual(types(when(customRolesDecider, state, define('field_tech', ['devices:read']))), ['auth.roles.changed']);
  });

  test('a role never carries more than its author holds, nor a platform administrator’s permission', () => {
    const empty = given(customRolesDecider, []);
    assert.throws(() => when(customRolesDecider, empty, define('reader', ['audit:read'], by(['admin']))), (e: unknown) => e instanceof ForbiddenError && /audit:read/.test(e.message));
    assert.throws(() => when(customRolesDecider, empty, define('minter', ['tenants:create'], by(['platform_admin']))), (e: unknown) => e instanceof ForbiddenError && /tenants:create/.test(e.message));
    assert.throws(() => when(customRolesDecider, empty, define('keys', ['kme:admin'], by(['platform_admin']))), ForbiddenError);
  });

  test('an admin cannot cut down or delete a role that grants what only an owner holds', () => {
    const state = given(customRolesDecider, [defined('compliance', ['audit:read', 'devices:read'])]);
    assert.throws(() => when(customRolesDecider, state, define('compliance', ['devices:read'], by(['admin']))), (e: unknown) => e instanceof ForbiddenError && /audit:read/.test(e.message));
    assert.throws(() => when(customRolesDecider, state, { kind: 'delete', role: 'compliance', by: by(['admin']) }), ForbiddenError);
    assert.deepEqual(types(when(customRolesDecider, state, { kind: 'delete', role: 'compliance', by: by(['owner']) })), ['auth.roles.deleted']);
  });

  test('built-in names and deleted names are unavailable; an unknown role is not found', () => {
    const state = given(customRolesDecider, [defined('temp', ['devices:read']), deleted('temp')]);
    assert.throws(() => when(customRolesDecider, state, define('admin', ['devices:read'])), RoleNameUnavailableError);
    assert.throws(() => when(customRolesDecider, state, define('temp', ['devices:read'])), RoleNameUnavailableError, 'a deleted name is retired');
    assert.throws(() => when(customRolesDecider, state, { kind: 'delete', role: 'temp', by: by(['owner']) }), RoleNotFoundError);
    assert.equal(catalogOf(state).grants('temp'), undefined, 'a deleted role grants nothing');
  });

  test(`at most ${maxCustomRoles} custom roles at once`, () => {
    const full = given(customRolesDecider, Array.from({ length: maxCustomRoles }, (_, i) => defined(`role_${i}`, ['devices:read'])));
    assert.throws(() => when(customRolesDecider, full, define('one_more', ['devices:read'])), TenantStateError);
    assert.deepEqual(types(when(customRolesDecider, full, define('role_0', ['devices:write']))), ['auth.roles.changed'], 'changing one still works');
  });

  test('assigning: the role must exist in the tenant and be within the administrator’s permissions', () => {
    const roles = given(customRolesDecider, [defined('field_tech', ['devices:read', 'devices:write']), defined('compliance', ['audit:read'])]);
    const admin = { ...by(['admin']), catalog: catalogOf(roles) };
    assert.doesNotThrow(() => requireGrantable(admin, ['field_tech', 'viewer']));
    assert.throws(() => requireGrantable(admin, ['compliance']), ForbiddenError, 'admin lacks audit:read');
    assert.throws(() => requireGrantable(admin, ['ghost']), (e: unknown) => e instanceof RoleNotFoundError && /ghost/.test(e.message));
    const user = given(userDecider, [{ type: 'auth.user.created', v: 1, data: { user_id: u2, username: 'bob', email_sha256: 'a'.repeat(64), email: { kek_id: 'k', sealed: 'AAAA' }, roles: ['viewer'] } }]);
    assert.deepEqual(types(when(userDecider, user, { kind: 'assign_role', role: 'field_tech', by: admin })), ['auth.user.role_assigned']);
    assert.throws(() => when(userDecider, user, { kind: 'assign_role', role: 'ghost', by: admin }), RoleNotFoundError);
  });

  test('given a holder’s API key, when the role is cut down, then the key carrying the lost permission is one to revoke', () => {
    const user = given(userDecider, [
      { type: 'auth.user.created', v: 1, data: { user_id: u2, username: 'bob', email_sha256: 'a'.repeat(64), email: { kek_id: 'k', sealed: 'AAAA' }, roles: ['field_tech'] } },
      { type: 'auth.user.api_key_issued', v: 1, data: { key_id: k1, permissions: ['devices:read'], expires_at: '2030-01-01T00:00:00.000Z' } },
      { type: 'auth.user.api_key_issued', v: 1, data: { key_id: k2, permissions: ['devices:write'], expires_at: '2030-01-01T00:00:00.000Z' } },
    ]);
    const before = catalogOf(given(customRolesDecider, [defined('field_tech', ['devices:read', 'devices:write'])]));
    const after = catalogOf(given(customRolesDecider, [defined('field_tech', ['devices:read', 'devices:write']), { ...defined('field_tech', ['devices:read']), type: 'auth.roles.changed' }]));
    assert.deepEqual(apiKeysBeyondRoles(user, before), []);
    assert.deepEqual(apiKeysBeyondRoles(user, after), [k2]);
    const gone = catalogOf(given(customRolesDecider, [defined('field_tech', ['devices:read', 'devices:write']), deleted('field_tech')]));
    assert.deepEqual(apiKeysBeyondRoles(user, gone), [k1, k2]);
  });
});

describe('tenant plans and features', () => {
  const created = (plan?: string, features?: string[]) => ({
    type: 'auth.tenant.created',
    v: 1,
    data: { tenant_id: 'acme', name: 'Acme', max_users: 5, max_api_keys: 5, ...(plan ? { plan } : {}), ...(features ? { features } : {}) },
  });
  const take = { kind: 'take_api_key_slot', keyId: k1, expiresAt: 2_000_000, now: 1_000_000, defaultMaxApiKeys: 5 } as const;

  test('a new tenant records its plan and the features it gives then', () => {
    const drafts = when(tenantDecider, given(tenantDecider, []), { kind: 'create', tenantId: 'acme', name: 'Acme', maxUsers: 2, maxApiKeys: 3, maxDevices: 4, plan: 'standard' });
    assert.deepEqual(drafts[0]?.data, { tenant_id: 'acme', name: 'Acme', max_users: 2, max_api_keys: 3, max_devices: 4, plan: 'standard', features: ['api_keys', 'devices'] });
  });

  test('given a tenant on essentials, an API key slot is refused; enabling api_keys for it, taken', () => {
    const essentials = given(tenantDecider, [created('essentials', [])]);
    assert.throws(() => when(tenantDecider, essentials, take), (e: unknown) => e instanceof FeatureNotInPlanError && /api_keys/.test(e.message));
    const change = { kind: 'change_plan', tenantId: 'acme', plan: 'essentials', enabled: ['api_keys'], disabled: [] } as const;
    const drafts = when(tenantDecider, essentials, change);
    assert.deepEqual(drafts.map((d) => [d.type, d.data]), [['auth.tenant.plan_changed', { plan: 'essentials', features_enabled: ['api_keys'], features_disabled: [], features: ['api_keys'] }]]);
    const enabled = given(tenantDecider, [created('essentials', []), ...drafts]);
    assert.deepEqual(types(when(tenantDecider, enabled, take)), ['auth.tenant.api_key_slot_taken']);
    assert.deepEqual(when(tenantDecider, enabled, change), [], 'the same plan and flags again: nothing');
  });

  test('a disabled flag takes a feature of the plan away; a tenant made before plans has every feature', () => {
    const drafts = when(tenantDecider, given(tenantDecider, [created('enterprise', ['api_keys', 'devices', 'audit_api', 'custom_roles'])]), {
      kind: 'change_plan',
      tenantId: 'acme',
      plan: 'enterprise',
      enabled: [],
      disabled: ['devices', 'api_keys'],
    });
    assert.deepEqual(drafts[0]?.data, { plan: 'enterprise', features_enabled: [], features_disabled: ['devices', 'api_keys'], features: ['audit_api', 'custom_roles'] });
    assert.deepEqual(types(when(tenantDecider, given(tenantDecider, [created()]), take)), ['auth.tenant.api_key_slot_taken']);
  });

  test('the deployment’s default plan setting accepts exactly the contract’s plans', () => {
    for (const plan of planNames) assert.equal(loadConfig({ VIGIL_TENANT_DEFAULT_PLAN: plan }).VIGIL_TENANT_DEFAULT_PLAN, plan);
    assert.throws(() => loadConfig({ VIGIL_TENANT_DEFAULT_PLAN: 'gold' }));
  });

  test('the platform tenant has no plan to change', () => {
    const platform = given(tenantDecider, [{ ...created(), data: { ...created().data, tenant_id: 'platform' } }]);
    assert.throws(() => when(tenantDecider, platform, { kind: 'change_plan', tenantId: 'platform', plan: 'essentials', enabled: [], disabled: [] }), TenantStateError);
  });
});
