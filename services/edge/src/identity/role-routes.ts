import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  Done,
  features,
  identitySubjects,
  parseDone,
  parseRoleDefinitionResult,
  parseRoleList,
  permissions,
  RoleDefinitionBody,
  RoleDefinitionResult,
  RoleList,
} from '@vigil/identity-contract';
import { RoleName } from '@vigil/schemas';
import Type from 'typebox';
import { problemResponses } from '../problem.ts';
import { callerOf, principalOf } from './authentication.ts';

export interface RoleRouteOptions {
  readonly bus: Bus;
  readonly timeoutMs: number;
}

const RoleParams = Type.Object({ role: RoleName }, { additionalProperties: false });

/**
 * The roles of my tenant: the built-in ones, and custom roles an administrator defines with permissions they hold
 * themselves (never a platform administrator's). Assign them like any role (`POST /users/{id}/roles`).
 */
export const roleRoutes: FastifyPluginAsyncTypebox<RoleRouteOptions> = async (app, { bus, timeoutMs }) => {
  const tags = ['administration'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller: Caller) => request(bus, subject, data, { timeoutMs, parse, caller });

  app.get(
    '/roles',
    {
      config: { permission: permissions.usersRead },
      schema: { summary: 'List the roles of my tenant and what each grants', tags, response: { 200: RoleList, ...problemResponses } },
    },
    async (req) => ask(identitySubjects.roles, {}, parseRoleList, callerOf(principalOf(req))),
  );

  app.put(
    '/roles/:role',
    {
      config: { permission: permissions.rolesManage, feature: features.customRoles },
      schema: {
        summary: 'Define or change a custom role',
        description: [
          'Permissions I hold myself, and none of tenants:* or kme:*; to change a role I must also hold everything it',
          'grants now. Its holders get the new permissions on their next request at every edge; API keys carrying a',
          'permission their maker no longer holds are revoked. A built-in role’s name, or a deleted role’s, is refused.',
        ].join(' '),
        tags,
        params: RoleParams,
        body: RoleDefinitionBody,
        response: { 200: RoleDefinitionResult, 201: RoleDefinitionResult, ...problemResponses },
      },
    },
    async (req, reply) => {
      const body = { role: req.params.role, permissions: req.body.permissions, description: req.body.description ?? '' };
      const result = await ask(identitySubjects.defineRole, body, parseRoleDefinitionResult, callerOf(principalOf(req)));
      return reply.code(result.change === 'defined' ? 201 : 200).send(result);
    },
  );

  app.delete(
    '/roles/:role',
    {
      config: { permission: permissions.rolesManage },
      schema: {
        summary: 'Delete a custom role',
        description: 'Its holders lose what it granted on their next request; the name is retired and never given to another role.',
        tags,
        params: RoleParams,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.deleteRole, { role: req.params.role }, parseDone, callerOf(principalOf(req))),
  );
};
