import Compile from 'typebox/compile';
import { KmeBadRequestError } from './errors.ts';
import { DecKeysRequest, EncKeysRequest, SealedKeyContainer, Status, StatusRequest } from './messages.ts';
import { PoolLevel, PoolLevelRequest } from './supply.ts';

const validators = {
  status: Compile(StatusRequest),
  enc: Compile(EncKeysRequest),
  dec: Compile(DecKeysRequest),
  statusReply: Compile(Status),
  container: Compile(SealedKeyContainer),
  poolLevelRequest: Compile(PoolLevelRequest),
  poolLevel: Compile(PoolLevel),
};

function problemsOf(errors: readonly { instancePath: string; message: string }[]): string {
  return errors
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ');
}

/** Request checks on the worker side: a bad shape is the ETSI "bad request format" (400). */
export function parseStatusRequest(data: unknown): StatusRequest {
  if (validators.status.Check(data)) return data;
  throw new KmeBadRequestError(`bad request format: ${problemsOf(validators.status.Errors(data))}`);
}

export function parseEncKeysRequest(data: unknown): EncKeysRequest {
  if (validators.enc.Check(data)) return data;
  throw new KmeBadRequestError(`bad request format: ${problemsOf(validators.enc.Errors(data))}`);
}

export function parseDecKeysRequest(data: unknown): DecKeysRequest {
  if (validators.dec.Check(data)) return data;
  throw new KmeBadRequestError(`bad request format: ${problemsOf(validators.dec.Errors(data))}`);
}

/** Reply checks on the edge side: a worker answering something else is a server fault. */
export function parseStatus(result: unknown): Status {
  if (validators.statusReply.Check(result)) return result;
  throw new Error(`KME status reply does not match its schema: ${problemsOf(validators.statusReply.Errors(result))}`);
}

export function parseSealedKeyContainer(result: unknown): SealedKeyContainer {
  if (validators.container.Check(result)) return result;
  throw new Error(`KME key container does not match its schema: ${problemsOf(validators.container.Errors(result))}`);
}

export function parsePoolLevelRequest(data: unknown): PoolLevelRequest {
  if (validators.poolLevelRequest.Check(data)) return data;
  throw new KmeBadRequestError(`bad request format: ${problemsOf(validators.poolLevelRequest.Errors(data))}`);
}

export function parsePoolLevel(result: unknown): PoolLevel {
  if (validators.poolLevel.Check(result)) return result;
  throw new Error(`KME pool level reply does not match its schema: ${problemsOf(validators.poolLevel.Errors(result))}`);
}
