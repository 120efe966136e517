import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiKeyIdOf,
  featureNames,
  featuresOf,
  hasFeature,
  hasPermission,
  isPermission,
  mayGrant,
  permissionNames,
  permissionsOf,
  planNames,
  plans,
  roleCatalog,
  rolePermissions,
} from '../src/index.ts';

test('every built-in role may manage its own account', () => {
  for (const role of Object.keys(rolePermissions)) assert.ok(hasPermission([role === 'owner' ? 'owner' : 'viewer'], 'profile:self'), role);
});

test('a caller grants only roles within their own permissions, and never platform_admin', () => {
  assert.equal(mayGrant(['owner'], ['admin', 'viewer']), true);
  assert.equal(mayGrant(['admin'], ['owner']), false, 'owner can read the audit trail, admin cannot');
  assert.equal(mayGrant(['platform_admin'], ['platform_admin']), false);
  assert.equal(mayGrant(['viewer'], ['operator']), false);
  assert.equal(hasPermission(['viewer'], 'users:create'), false);
});

test('hasPermission and mayGrant work alike for roles and for a holder of permissions (an API key, any principal)', () => {
  const key = { permissions: new Set(['devices:read', 'profile:self']) };
  assert.equal(hasPermission(key, 'devices:read'), true);
  assert.equal(hasPermission(key, 'devices:write'), false);
  assert.equal(mayGrant(key, ['viewer']), false, 'viewer also gives api_keys:create, which the key lacks');
  assert.equal(mayGrant({ permissions: new Set(['devices:read', 'profile:self', 'api_keys:create']) }, ['viewer']), true);
  assert.equal(mayGrant({ permissions: permissionsOf(['owner']) }, ['owner']), true);
});

test('API keys: the shape vgl_<uuid>_<43 base64url characters>, and nothing else', () => {
  const id = '01890a5d-ac96-774b-bcce-b302099a8057';
  assert.equal(apiKeyIdOf(`vgl_${id}_${'a-_Z'.repeat(10)}abc`), id);
  for (const bad of [`vgl_${id}_short`, `vgl_${id}_${'a'.repeat(44)}`, `xyz_${id}_${'a'.repeat(43)}`, `vgl_${id.toUpperCase()}_${'a'.repeat(43)}`, 'eyJ.a.b']) {
    assert.equal(apiKeyIdOf(bad), undefined, bad);
  }
});

test('every permission a role grants is one the contract declares', () => {
  for (const [role, list] of Object.entries(rolePermissions)) for (const p of list) assert.ok(isPermission(p), `${role}: ${p}`);
  assert.deepEqual([...new Set(permissionNames)].length, permissionNames.length);
});

test('a tenant catalog: built-in roles as they are, custom roles as defined, anything else grants nothing', () => {
  const catalog = roleCatalog(new Map([['field_tech', ['devices:read', 'devices:write'] as const]]));
  assert.deepEqual([...permissionsOf(['field_tech'], catalog)], ['devices:read', 'devices:write']);
  assert.deepEqual([...permissionsOf(['field_tech', 'ghost'])], [], 'without the catalog a custom role is unknown');
  assert.equal(catalog.grants('admin'), rolePermissions.admin);
  assert.equal(mayGrant(['admin'], ['field_tech'], catalog), true);
  assert.equal(mayGrant(['viewer'], ['field_tech'], catalog), false);
  assert.equal(mayGrant(['owner'], ['ghost'], catalog), true, 'an unknown role bounds nothing (existence is checked apart)');
});

test('features: the plan’s, plus enabled, minus disabled; an unknown plan gives only the flags; the platform and pre-plan tenants have all', () => {
  assert.deepEqual(featuresOf({ plan: 'standard', enabled: [], disabled: [] }), ['api_keys', 'devices']);
  assert.deepEqual(featuresOf({ plan: 'essentials', enabled: ['audit_api'], disabled: [] }), ['audit_api']);
  assert.deepEqual(featuresOf({ plan: 'enterprise', enabled: [], disabled: ['devices', 'nonsense'] }), ['api_keys', 'audit_api', 'custom_roles']);
  assert.deepEqual(featuresOf({ plan: 'from_the_future', enabled: ['devices'], disabled: [] }), ['devices']);
  assert.equal(hasFeature('acme', [], 'devices'), false);
  assert.equal(hasFeature('acme', undefined, 'devices'), true);
  assert.equal(hasFeature('platform', [], 'devices'), true);
  for (const plan of planNames) for (const f of plans[plan]) assert.ok(featureNames.includes(f));
});
