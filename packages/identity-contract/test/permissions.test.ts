import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasPermission, mayGrant, rolePermissions } from '../src/index.ts';

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
