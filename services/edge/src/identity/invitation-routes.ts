import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  AcceptInvitationRequest,
  Done,
  identitySubjects,
  InvitationPage,
  IssuedInvitation,
  ListInvitationsQuery,
  NewInvitation,
  parseDone,
  parseInvitationPage,
  parseIssuedInvitation,
  parseUserCreated,
  permissions,
  UserCreatedResult,
} from '@vigil/identity-contract';
import Type from 'typebox';
import { problemResponses } from '../problem.ts';
import { callerOf, principalOf } from './authentication.ts';

export interface InvitationRouteOptions {
  readonly bus: Bus;
  readonly timeoutMs: number;
  /** Requests per minute per client address on the public acceptance, as on the sign-in routes. */
  readonly authRateLimit: number;
}

const InvitationParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

/**
 * Inviting people into my tenant, and (public, with the token) joining it. Vigil sends no mail: the inviter hands the
 * token over. Another tenant's invitation is "not found".
 */
export const invitationRoutes: FastifyPluginAsyncTypebox<InvitationRouteOptions> = async (app, { bus, timeoutMs, authRateLimit }) => {
  const tags = ['administration'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller?: Caller) =>
    request(bus, subject, data, { timeoutMs, parse, ...(caller ? { caller } : {}) });

  app.post(
    '/invitations',
    {
      config: { permission: permissions.usersCreate },
      schema: {
        summary: 'Invite someone into my tenant',
        description: [
          'With roles within my own permissions (as when creating a user), for `expires_in_seconds` (seven days unless said,',
          'at most thirty). The token `vgi_<tenant>_<id>_<secret>` is in this answer only (Vigil keeps its SHA-256): Vigil',
          'sends no mail, so hand it to the person invited, who joins with `POST /invitations/accept`. The e-mail address must',
          'not belong to a user of the tenant already (409). If I lose the permission to grant the roles, or am disabled,',
          'the invitation no longer opens.',
        ].join(' '),
        tags,
        body: NewInvitation,
        response: { 201: IssuedInvitation, ...problemResponses },
      },
    },
    async (req, reply) => reply.code(201).header('cache-control', 'no-store').send(await ask(identitySubjects.invite, req.body, parseIssuedInvitation, callerOf(principalOf(req)))),
  );

  app.post(
    '/invitations/accept',
    {
      config: { public: true, rateLimit: { max: authRateLimit, timeWindow: 60_000 } },
      schema: {
        summary: 'Join a tenant with an invitation',
        description: [
          'The person invited chooses a username and a password (the password policy applies) and becomes a user of the',
          'tenant with the invited e-mail address and roles; then signs in with `POST /auth/login`. An invitation works',
          'once. Any problem with the token (unknown, wrong, expired, revoked, used) is the same 401',
          '`VGL_INVITATION_INVALID`; a username taken is 409 and the invitation stays open. Should the answer be a 5xx or',
          'none at all, send the same request again after a minute: it finishes what was started.',
        ].join(' '),
        tags: ['authentication'],
        body: AcceptInvitationRequest,
        response: { 201: UserCreatedResult, ...problemResponses },
      },
    },
    async (req, reply) => reply.code(201).send(await ask(identitySubjects.acceptInvitation, req.body, parseUserCreated)),
  );

  app.get(
    '/invitations',
    {
      config: { permission: permissions.usersRead },
      schema: {
        summary: 'List the pending invitations of my tenant',
        description:
          'Not accepted and not revoked, expired ones included (until revoked), in the order they were issued, `limit` (100 by default, at most 1000) a page: pass the answer’s `next` as `after` for the next page. E-mail address and roles, never the token.',
        tags,
        querystring: ListInvitationsQuery,
        response: { 200: InvitationPage, ...problemResponses },
      },
    },
    async (req) => {
      const { after, limit } = req.query;
      return ask(identitySubjects.invitations, { limit: limit ?? 100, ...(after === undefined ? {} : { after }) }, parseInvitationPage, callerOf(principalOf(req)));
    },
  );

  app.delete(
    '/invitations/:id',
    {
      config: { permission: permissions.usersCreate },
      schema: {
        summary: 'Revoke an invitation',
        description: 'A pending invitation (expired or not) of my tenant no longer opens. Again on a revoked one, a no-op; an accepted one, or another tenant’s, is not found (404).',
        tags,
        params: InvitationParams,
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.revokeInvitation, { invitation_id: req.params.id }, parseDone, callerOf(principalOf(req))),
  );
};
