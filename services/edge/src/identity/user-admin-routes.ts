import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import { DisableUserBody, Done, identitySubjects, parseDone, parseUserRoles, permissions, RoleBody, UserRoles } from '@vigil/identity-contract';
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
