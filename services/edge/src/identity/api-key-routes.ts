import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import {
  ApiKeyList,
  CreateApiKeyRequest,
  CreatedApiKey,
  Done,
  features,
  identitySubjects,
  ListApiKeysQuery,
  parseApiKeyList,
  parseCreatedApiKey,
  parseDone,
  permissions,
} from '@vigil/identity-contract';
import Type from 'typebox';
import { problemResponses } from '../problem.ts';
import type { ApiKeyDirectory } from './api-key-directory.ts';
import { callerOf, principalOf, sessionOf } from './authentication.ts';

export interface ApiKeyRouteOptions {
  readonly bus: Bus;
  readonly apiKeys: ApiKeyDirectory;
  readonly timeoutMs: number;
}

/** Making, listing and revoking API keys. The key is shown once, in the answer that makes it. */
export const apiKeyRoutes: FastifyPluginAsyncTypebox<ApiKeyRouteOptions> = async (app, { bus, apiKeys, timeoutMs }) => {
  const tags = ['api keys'];
  const ask = <R>(subject: string, data: unknown, parse: (r: unknown) => R, caller: Caller) => request(bus, subject, data, { timeoutMs, parse, caller });

  app.post(
    '/api-keys',
    {
      config: { permission: permissions.apiKeysCreate, feature: features.apiKeys },
      schema: {
        summary: 'Make an API key',
        description: [
          'For my tenant, acting for me with some of my permissions (never more), an expiry (at most 365 days) and a rate',
          'limit (requests per minute at each edge; beyond it 429 with Retry-After). The key `vgl_<id>_<secret>` is in this',
          'answer only: Vigil keeps its SHA-256. Needs a signed-in session: a key cannot make keys. It works at every edge',
          'from this answer on. The key is revoked when I am disabled, or when I lose a permission it carries; if such a',
          'change lands while the key is being made, the request is refused with 403, as if the change had come first.',
        ].join(' '),
        tags,
        body: CreateApiKeyRequest,
        response: { 201: CreatedApiKey, ...problemResponses },
      },
    },
    async (req, reply) => {
      const created = await ask(identitySubjects.createApiKey, req.body, parseCreatedApiKey, callerOf(sessionOf(req)));
      // Read-your-writes: this edge knows the key (from the feed every edge follows) before the caller can use it.
      await apiKeys.waitFor(created.id, timeoutMs);
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.get(
    '/api-keys',
    {
      config: { permission: permissions.profileSelf },
      schema: {
        summary: 'List API keys',
        description: 'My keys that are not revoked (expired ones too, until revoked), or with `all=true` and api_keys:manage every key of my tenant. Never a secret.',
        tags,
        querystring: ListApiKeysQuery,
        response: { 200: ApiKeyList, ...problemResponses },
      },
    },
    async (req) => ask(identitySubjects.apiKeys, { all: req.query.all ?? false }, parseApiKeyList, callerOf(principalOf(req))),
  );

  app.delete(
    '/api-keys/:id',
    {
      config: { permission: permissions.profileSelf },
      schema: {
        summary: 'Revoke an API key',
        description: 'One of mine, or, with api_keys:manage, anyone’s in my tenant (others: 404). It stops working at every edge within a second.',
        tags,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 200: Done, ...problemResponses },
      },
    },
    async (req) => {
      const done = await ask(identitySubjects.revokeApiKey, { key_id: req.params.id }, parseDone, callerOf(principalOf(req)));
      apiKeys.remove(req.params.id);
      return done;
    },
  );
};
