import type { Server } from 'node:https';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { request, type Bus } from '@vigil/bus';
import type { KekRing } from '@vigil/crypto';
import { kmeSubjects, openAtEdge, SealedKeyContainer, type DecKeysRequest, type SaeCaller } from '@vigil/kme-contract';
import type { TSchema, Static } from 'typebox';
import Compile from 'typebox/compile';
import { EncKeysBatcher } from './enc-keys-batcher.ts';
import { etsiErrorResponses } from './etsi-errors.ts';
import {
  DecKeysQuery,
  decKeysFromBody,
  EncKeysQuery,
  encKeysFromBody,
  encKeysFromQuery,
  KeyContainer,
  KeyIds,
  KeyRequest,
  MasterParams,
  SlaveParams,
  Status,
} from './request-formats.ts';
import type { ConnectionIdentities } from './sae-identity.ts';

export interface EtsiRouteOptions {
  readonly bus: Bus;
  readonly ring: KekRing;
  readonly identities: ConnectionIdentities;
  /** How long to wait for the KME worker. */
  readonly timeoutMs: number;
}

/** A worker's answer outside the contract is the server's fault (a 500, logged), never passed on. */
function parserOf<S extends TSchema>(schema: S, what: string): (value: unknown) => Static<S> {
  const check = Compile(schema);
  return (value) => {
    if (check.Check(value)) return value;
    throw new Error(`the KME worker answered ${what} outside the contract: ${check.Errors(value).slice(0, 3).map((e) => `${e.instancePath} ${e.message}`).join('; ')}`);
  };
}

const parseStatus = parserOf(Status, 'a status');
const parseContainer = parserOf(SealedKeyContainer, 'a key container');

const tags = ['ETSI GS QKD 014'];
const keyContainerResponses = { 200: KeyContainer, ...etsiErrorResponses };

/** ETSI GS QKD 014 Table 2, to the letter: Get status, Get key (POST or GET), Get key with key IDs (POST or GET). */
export const etsiRoutes: FastifyPluginAsyncTypebox<EtsiRouteOptions, Server> = async (app, options) => {
  const { bus, ring, identities, timeoutMs } = options;
  const callerOf = (socket: unknown): SaeCaller => identities.callerOf(socket);
  const batcher = new EncKeysBatcher(bus, timeoutMs);

  // Every method needs an SAE; a connection without one is refused before its body is even parsed.
  app.addHook('onRequest', async (req) => {
    callerOf(req.raw.socket);
  });

  const decKeys = async (data: DecKeysRequest, caller: SaeCaller) => openAtEdge(ring, await request(bus, kmeSubjects.decKeys, data, { caller, timeoutMs, parse: parseContainer }));
  const bodyBytes = (headers: { 'content-length'?: string }) => Number(headers['content-length'] ?? 0) || 0;

  // An absent Key request or Key IDs body is the empty one (clause 6.2: "may be empty"); its schema then decides.
  const emptyBodyIsEmptyObject = async (req: { body: unknown }) => {
    if (req.body === undefined) req.body = {};
  };

  app.get(
    '/api/v1/keys/:slave_SAE_ID/status',
    { schema: { summary: 'Get status', tags, params: SlaveParams, response: { 200: Status, ...etsiErrorResponses } } },
    async (req) => request(bus, kmeSubjects.status, { slave_SAE_ID: req.params.slave_SAE_ID }, { caller: callerOf(req.raw.socket), timeoutMs, parse: parseStatus }),
  );

  app.post(
    '/api/v1/keys/:slave_SAE_ID/enc_keys',
    { preValidation: emptyBodyIsEmptyObject, schema: { summary: 'Get key', tags, params: SlaveParams, body: KeyRequest, response: keyContainerResponses } },
    async (req) => openAtEdge(ring, await batcher.keys(callerOf(req.raw.socket), encKeysFromBody(req.params.slave_SAE_ID, req.body), bodyBytes(req.headers))),
  );

  app.get(
    '/api/v1/keys/:slave_SAE_ID/enc_keys',
    { schema: { summary: 'Get key (simple request)', tags, params: SlaveParams, querystring: EncKeysQuery, response: keyContainerResponses } },
    async (req) => openAtEdge(ring, await batcher.keys(callerOf(req.raw.socket), encKeysFromQuery(req.params.slave_SAE_ID, req.query), 0)),
  );

  app.post(
    '/api/v1/keys/:master_SAE_ID/dec_keys',
    { preValidation: emptyBodyIsEmptyObject, schema: { summary: 'Get key with key IDs', tags, params: MasterParams, body: KeyIds, response: keyContainerResponses } },
    async (req) => decKeys(decKeysFromBody(req.params.master_SAE_ID, req.body), callerOf(req.raw.socket)),
  );

  app.get(
    '/api/v1/keys/:master_SAE_ID/dec_keys',
    { schema: { summary: 'Get key with key IDs (one key)', tags, params: MasterParams, querystring: DecKeysQuery, response: keyContainerResponses } },
    async (req) => decKeys({ master_SAE_ID: req.params.master_SAE_ID, key_IDs: [req.query.key_ID] }, callerOf(req.raw.socket)),
  );
};
