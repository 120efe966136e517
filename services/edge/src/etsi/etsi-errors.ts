import { isVigilError, NoWorkerError, WorkerTimeoutError } from '@vigil/bus';
import { KmeBadRequestError, KmeUnauthorizedError, KmeUnavailableError } from '@vigil/kme-contract';
import type { FastifyInstance, FastifyReply, FastifySchemaValidationError } from 'fastify';
import Type, { type Static } from 'typebox';
import { decimalIntegerPattern } from './request-formats.ts';

/** ETSI GS QKD 014 Table 13: the body of every error of the ETSI routes (never problem+json). */
export const EtsiError = Type.Object(
  {
    message: Type.String({ description: 'Error message (the specification\'s own words where it prescribes them).' }),
    details: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'Name/value pairs with more detail.' })),
  },
  { description: 'ETSI GS QKD 014 Error data format' },
);
export type EtsiError = Static<typeof EtsiError>;

/** The response schemas of the error statuses each ETSI route may answer (Tables 4, 6, 8). */
export const etsiErrorResponses = { 400: EtsiError, 401: EtsiError, 503: EtsiError } as const;

export interface EtsiAnswer {
  readonly status: number;
  readonly body: EtsiError;
  /** The server's fault: logged with its cause. */
  readonly serverFault: boolean;
}

type Detail = Record<string, unknown>;

function isDetail(value: unknown): value is Detail {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isValidationErrorList(value: unknown): value is FastifySchemaValidationError[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && 'instancePath' in v);
}

function names(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v) => typeof v === 'string') : typeof value === 'string' ? [value] : [];
}

/** At most this many problems are listed: a huge invalid array must not make a huge answer. */
const maxDetails = 25;

/**
 * Schema failures as ETSI name/value pairs: the field (a path such as `key_IDs/0/key_ID`) and what is wrong with it.
 * The validator's duplicate "schema is false" entry for an unexpected property is dropped.
 */
function validationDetails(list: readonly FastifySchemaValidationError[]): Detail[] {
  const details: Detail[] = [];
  const at = (path: string, name?: string) => [path.replace(/^\//, ''), name].filter((s) => s).join('/') || '(request)';
  for (const v of list) {
    if (v.keyword === 'boolean' && v.schemaPath.endsWith('/additionalProperties')) continue;
    if (v.keyword === 'required') {
      for (const name of [...names(v.params['requiredProperties']), ...names(v.params['missingProperty'])]) details.push({ [at(v.instancePath, name)]: 'is required' });
    } else if (v.keyword === 'additionalProperties') {
      for (const name of [...names(v.params['additionalProperties']), ...names(v.params['additionalProperty'])]) details.push({ [at(v.instancePath, name)]: 'is not allowed' });
    } else if (v.keyword === 'pattern' && v.params['pattern'] === decimalIntegerPattern) {
      details.push({ [at(v.instancePath)]: 'must be an integer in decimal digits' });
    } else {
      details.push({ [at(v.instancePath)]: v.message ?? `fails ${v.keyword}` });
    }
  }
  return details.slice(0, maxDetails);
}

const partMessage: Readonly<Record<string, string>> = {
  body: 'the request body does not follow the ETSI GS QKD 014 data format',
  querystring: 'the query parameters are not valid',
  params: 'the SAE ID in the URL is not valid',
};

/** fastify's own refusals of a request, each a client's mistake (400, as Tables 4, 6 and 8 allow). */
const fastifyClientMessages: Readonly<Record<string, (bodyLimit: number) => string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (limit) => `the request body is larger than ${limit} bytes`,
  FST_ERR_CTP_INVALID_JSON_BODY: () => 'the request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: () => 'the request body is empty',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => 'the request body must be application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => 'the Content-Length does not match the request body',
  FST_ERR_BAD_URL: () => 'the URL is malformed',
  FST_ERR_MAX_PARAM_LENGTH: () => 'the SAE ID in the URL is too long',
};

function withDetails(message: string, details: unknown): EtsiError {
  const list = Array.isArray(details) ? details.filter(isDetail) : [];
  return list.length > 0 ? { message, details: list } : { message };
}

/**
 * The one place any failure of an ETSI route becomes its HTTP answer. The KME's declared errors keep their status,
 * message and details; a client's mistake is a 400 that says what is wrong; a missing or slow KME is a 503;
 * anything else is a 500 that says nothing about its cause.
 */
export function etsiAnswerOf(error: unknown, bodyLimit: number): EtsiAnswer {
  if (isVigilError(error)) {
    if (error instanceof KmeBadRequestError || error instanceof KmeUnauthorizedError || error instanceof KmeUnavailableError) {
      return { status: error.statusCode, body: withDetails(error.message, error.details), serverFault: false };
    }
    if (error instanceof NoWorkerError) return { status: 503, body: { message: 'the KME is not available' }, serverFault: false };
    if (error instanceof WorkerTimeoutError) return { status: 503, body: { message: 'the KME did not answer in time' }, serverFault: false };
    // Any other declared error a worker meant for the client (such as a request its parser refused).
    if (error.statusCode >= 400 && error.statusCode < 500) {
      return { status: error.statusCode === 401 ? 401 : 400, body: withDetails(error.message, error.details), serverFault: false };
    }
    return { status: 500, body: { message: 'internal error' }, serverFault: true };
  }
  if (typeof error === 'object' && error !== null) {
    if ('validation' in error && isValidationErrorList(error.validation)) {
      const part = 'validationContext' in error && typeof error.validationContext === 'string' ? error.validationContext : 'request';
      return { status: 400, body: { message: partMessage[part] ?? 'the request is not valid', details: validationDetails(error.validation) }, serverFault: false };
    }
    const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    const message = code ? fastifyClientMessages[code] : undefined;
    if (message) return { status: 400, body: { message: message(bodyLimit) }, serverFault: false };
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
    if (status !== undefined && status >= 400 && status < 500) return { status: 400, body: { message: 'bad request' }, serverFault: false };
  }
  return { status: 500, body: { message: 'internal error' }, serverFault: true };
}

export function sendEtsiError(reply: FastifyReply, answer: EtsiAnswer): FastifyReply {
  return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.body);
}

/** The ETSI listener's error and not-found handlers: Table 13 bodies, never problem+json. */
export function useEtsiErrors(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((error, request, reply) => {
    const answer = etsiAnswerOf(error, bodyLimit);
    if (answer.serverFault) request.log.error({ err: error }, 'ETSI request failed');
    else request.log.info({ status: answer.status }, 'ETSI request refused');
    return sendEtsiError(reply, answer);
  });
  app.setNotFoundHandler((request, reply) => {
    sendEtsiError(reply, { status: 404, body: { message: `no ETSI GS QKD 014 method answers ${request.method} ${request.url.split('?', 1)[0] ?? '/'}` }, serverFault: false });
  });
}
