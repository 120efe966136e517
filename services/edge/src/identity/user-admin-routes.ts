import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  DisableUserBody,
  Done,
  identitySubjects,
  ListUsersQuery,
  parseDone,
  parseUserPage,
  parseUserRoles,
  permissions,
  RoleBody,
  UserPage,
  UserRoles,
} from '@vigil/identity-contract';
import { RoleName } from '@vigil/schemas';
import Type from 'typebox';
import { problemResponses } from '../problem.ts';
import { callerOf, principalOf } from './authentication.ts';

export interface UserAdminRouteOptions {
  readonly bus: Bus;
  readonly timeoutMs: number;
}

const UserParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const UserRoleParams = Type.Object({ id: Type.String({ format: 'uuid' }), role: RoleName }, { additionalProperties: false });

/**
 * Administration of the users of my tenant. On any user I act on, I must be able to grant every role they hold (an
 * admin cannot disable or demote an owner), and never on my own account. Another tenant's user is "not found".
 */
export const userAdminRoutes: FastifyPluginAsyncTypebox<UserAdminRouteOptions> = async (app, { bus, timeoutMs }) => {
  const tags = ['administration'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller: Caller) => request(bus, subject, data, { timeoutMs, parse, caller });

  app.get(
    '/users',
    {
      config: { permission: permissions.usersRead },
      schema: {
        summary: 'List the users of my tenant',
        description:
          'In creation order, `limit` (100 by default, at most 1000) a page: pass the answer’s `next` as `after` for the next page (null on the last). `status` keeps only active, disabled or deleted users. Never a credential.',
        tags,
        querystring: ListUsersQuery,
        response: { 200: UserPage, ...problemResponses },
      },
    },
    async (req) => {
      const { after, limit, status } = req.query;
      return ask(identitySubjects.users, { limit: limit ?? 100, ...(after === undefined ? {} : { after }), ...(status === undefined ? {} : { status }) }, parseUserPage, callerOf(principalOf(req)));
    },
  );

  app.delete(
    '/users/:id',
    {
      config: { permission: permissions.usersDelete },
      schema: {
        summary: 'Delete a user (soft)',
        description:
          'They sign in no more: their sessions end (tokens stop at every edge within a second), their API keys are revoked and their seat of the user quota is free. Their username and e-mail address stay reserved for a restore. Again on a deleted user, a no-op.',
        tags,
        params: UserParams,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.deleteUser, { user_id: req.params.id, reason: '' }, parseDone, callerOf(principalOf(req))),
  );

  app.post(
    '/users/:id/restore',
    {
      config: { permission: permissions.usersDelete },
      schema: {
        summary: 'Restore a deleted user',
        description: 'The account is back, with no session (they sign in again) and no API key. It takes a seat of the user quota again: a full tenant refuses it (409).',
        tags,
        params: UserParams,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.restoreUser, { user_id: req.params.id }, parseDone, callerOf(principalOf(req))),
  );

  app.post(
    '/users/:id/disable',
    {
      config: { permission: permissions.usersDisable },
      schema: {
        summary: 'Disable a user',
        description: 'They sign in no more: their sessions end (tokens stop at every edge within a second) and their API keys are revoked. Send `{}` or `{"reason": …}`.',
        tags,
        params: UserParams,
        body: DisableUserBody,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.disableUser, { user_id: req.params.id, reason: req.body.reason ?? '' }, parseDone, callerOf(principalOf(req))),
  );

  app.post(
    '/users/:id/unlock',
    {
      config: { permission: permissions.usersUnlock },
      schema: {
        summary: 'Unlock a user',
        description: 'Ends a lockout after failed sign-ins before its time, and starts the count of failures again.',
        tags,
        params: UserParams,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.unlockUser, { user_id: req.params.id }, parseDone, callerOf(principalOf(req))),
  );

  app.post(
    '/users/:id/roles',
    {
      config: { permission: permissions.rolesAssign },
      schema: {
        summary: 'Assign a role',
        description: 'Only a role within my own permissions; never platform_admin. It takes effect at the user’s next sign-in.',
        tags,
        params: UserParams,
        body: RoleBody,
        response: { 200: UserRoles, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.assignRole, { user_id: req.params.id, role: req.body.role }, parseUserRoles, callerOf(principalOf(req))),
  );

  app.delete(
    '/users/:id/roles/:role',
    {
      config: { permission: permissions.rolesAssign },
      schema: {
        summary: 'Revoke a role',
        description:
          'Only a role within my own permissions; a user keeps at least one. Sessions started with the role end, and API keys carrying a permission the user loses are revoked.',
        tags,
        params: UserRoleParams,
        response: { 200: UserRoles, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.revokeRole, { user_id: req.params.id, role: req.params.role }, parseUserRoles, callerOf(principalOf(req))),
  );
};
