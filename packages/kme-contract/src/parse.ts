import { replyParser, schemaProblems } from '@vigil/bus';
import type { Static, TSchema } from 'typebox';
import Compile from 'typebox/compile';
import { KmeBadRequestError } from './errors.ts';
import { DecKeysRequest, EncKeysBatch, EncKeysBatchReply, EncKeysRequest, SealedKeyContainer, Status, StatusRequest } from './messages.ts';
import { PoolLevel, PoolLevelRequest } from './supply.ts';
import { RemoveSaeRequest, TopologyApplied, TopologyDeclaration } from './topology.ts';

/** A request check on the worker side: a bad shape is the ETSI "bad request format" (400, in the ETSI error format). */
function kmeRequestParser<S extends TSchema>(schema: S): (data: unknown) => Static<S> {
  const validator = Compile(schema);
  return (data) => {
    if (validator.Check(data)) return data;
    throw new KmeBadRequestError(`bad request format: ${schemaProblems(validator.Errors(data))}`);
  };
}

export const parseStatusRequest = kmeRequestParser(StatusRequest);
export const parseEncKeysRequest = kmeRequestParser(EncKeysRequest);
export const parseEncKeysBatch = kmeRequestParser(EncKeysBatch);
export const parseDecKeysRequest = kmeRequestParser(DecKeysRequest);
export const parsePoolLevelRequest = kmeRequestParser(PoolLevelRequest);
export const parseTopologyDeclaration = kmeRequestParser(TopologyDeclaration);
export const parseRemoveSaeRequest = kmeRequestParser(RemoveSaeRequest);

export const parseStatus = replyParser(Status, 'KME status');
export const parseSealedKeyContainer = replyParser(SealedKeyContainer, 'KME key container');
export const parseEncKeysBatchReply = replyParser(EncKeysBatchReply, 'KME batch of key containers');
export const parsePoolLevel = replyParser(PoolLevel, 'KME pool level');
export const parseTopologyApplied = replyParser(TopologyApplied, 'KME topology');
export const parseTopologyView = replyParser(TopologyDeclaration, 'KME topology view');
