import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus, type Caller } from '@vigil/bus';
import { permissions } from '@vigil/identity-contract';
import { kmeSubjects, parseTopologyApplied, parseTopologyView, SaeId, TopologyApplied, TopologyDeclaration } from '@vigil/kme-contract';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { callerOf, principalOf } from '../identity/index.ts';
import { problemResponses } from '../problem.ts';

export interface KmeTopologyRouteOptions {
  readonly bus: Bus;
  readonly timeoutMs: number;
}

/**
 * The KME topology for platform administrators: the same declaration as the topology file, read back and applied
 * (only what differs becomes an event on KEY_REQUEST, with the administrator as its actor), and SAEs removed by name.
 */
export const kmeTopologyRoutes: FastifyPluginAsyncTypebox<KmeTopologyRouteOptions> = async (app, { bus, timeoutMs }) => {
  const tags = ['quantum key delivery'];
  const callerFor = (req: FastifyRequest): Caller => callerOf(principalOf(req));

  app.get(
    '/kme/topology',
    {
      config: { permission: permissions.kmeRead },
      schema: { summary: 'The KMEs, SAEs and QKD links', tags, response: { 200: TopologyDeclaration, ...problemResponses } },
    },
    async (req) => request(bus, kmeSubjects.topology, {}, { timeoutMs, parse: parseTopologyView, caller: callerFor(req) }),
  );

  app.put(
    '/kme/topology',
    {
      config: { permission: permissions.kmeAdmin },
      schema: {
        summary: 'Declare the topology',
        description:
          'Brings the topology to this declaration: new or changed KMEs, SAEs and links become events; SAEs not named are kept (remove them by name). Applying what GET answers changes nothing.',
        tags,
        body: TopologyDeclaration,
        response: { 200: TopologyApplied, ...problemResponses },
      },
    },
    async (req) => request(bus, kmeSubjects.applyTopology, req.body, { timeoutMs, parse: parseTopologyApplied, caller: callerFor(req) }),
  );

  app.delete(
    '/kme/saes/:sae_id',
    {
      config: { permission: permissions.kmeAdmin },
      schema: {
        summary: 'Remove an SAE',
        description: 'It can no longer request or retrieve keys; keys already made for it stay until retrieved or expired.',
        tags,
        params: Type.Object({ sae_id: SaeId }, { additionalProperties: false }),
        response: { 200: TopologyApplied, ...problemResponses },
      },
    },
    async (req) => request(bus, kmeSubjects.removeSae, { sae_id: req.params.sae_id }, { timeoutMs, parse: parseTopologyApplied, caller: callerFor(req) }),
  );
};
