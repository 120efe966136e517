import { STATUS_CODES } from 'node:http';
import { isVigilError } from '@vigil/bus';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { requestIdHeader } from './request-context.ts';
import { recordProblemCode } from './request-log.ts';

export const problemContentType = 'application/problem+json';

/** One entry of `errors` on a 400 for a request that failed its schema (RFC 9457 §3, "pointer" style). */
export const ValidationProblem = Type.Object({
  in: Type.String({ description: 'The part of the request: body, querystring, params or headers.' }),
  pointer: Type.String({ description: 'JSON pointer (as a URI fragment) to the offending value.' }),
  detail: Type.String(),
});
export type ValidationProblem = Static<typeof ValidationProblem>;

/** The members of RFC 9457 problem details, for schemas that extend them (readiness adds `checks`). */
export const problemProperties = {
  type: Type.String({ description: 'A URI reference for the problem type; `about:blank` means the status says it all.' }),
  title: Type.String({ description: 'The HTTP status phrase.' }),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.String({ description: 'What went wrong, for a person. Never an internal message.' }),
  instance: Type.String({ description: 'The path of the request that failed.' }),
  request_id: Type.String({ description: 'Also in the `x-request-id` header; quote it when reporting a problem.' }),
  code: Type.Optional(Type.String({ description: 'Stable machine-readable code, such as VGL_VALIDATION.' })),
  errors: Type.Optional(Type.Array(Type.Unknown(), { description: 'The individual problems (validation failures, ...).' })),
};

/** RFC 9457 problem details: the body of every error the edge answers (except the ETSI 014 routes). */
export const Problem = Type.Object(problemProperties, { description: 'RFC 9457 problem details' });
export type Problem = Static<typeof Problem>;

/** Route `response` entries for the errors any route may answer, so every route documents them. */
export const problemResponses = {
  '4xx': { description: 'The request was refused (RFC 9457 problem details).', content: { [problemContentType]: { schema: Problem } } },
  '5xx': { description: 'The edge or a worker failed (RFC 9457 problem details).', content: { [problemContentType]: { schema: Problem } } },
} as const;

/** What a failure becomes on the wire, before the request's own fields are added. */
export interface ProblemSpec {
  readonly status: number;
  readonly detail: string;
  readonly code?: string;
  readonly errors?: readonly unknown[];
}

export function problemBody(request: FastifyRequest, spec: ProblemSpec): Problem {
  return {
    type: 'about:blank',
    title: STATUS_CODES[spec.status] ?? 'Error',
    status: spec.status,
    detail: spec.detail,
    // The path only: a query string may carry something that should not be echoed into logs or caches.
    instance: request.url.split('?', 1)[0] ?? '/',
    request_id: request.id,
    ...(spec.code ? { code: spec.code } : {}),
    ...(spec.errors && spec.errors.length > 0 ? { errors: [...spec.errors] } : {}),
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, spec: ProblemSpec): FastifyReply {
  if (spec.code) recordProblemCode(request, spec.code);
  // Set here as well as in the onRequest hook: framework errors (a bad URL) are answered before any hook runs.
  return reply.code(spec.status).header(requestIdHeader, request.id).type(problemContentType).send(problemBody(request, spec));
}

/** Generic details for server-side failures: what the client may know, never the internal message. */
const serverDetails: Readonly<Record<number, string>> = {
  502: 'A worker answered with something the edge could not use.',
  503: 'The service is temporarily unavailable; retry later.',
  504: 'The operation did not complete in time; it may still complete. Retry later.',
};
const genericServerDetail = 'The request could not be completed because of an error on our side. Quote the request id when reporting it.';

/** Codes of fastify's own client errors whose messages are fit to show (they describe the request, not the server). */
const fastifyClientCodes: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'VGL_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'VGL_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VGL_MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VGL_MALFORMED_BODY',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VGL_MALFORMED_BODY',
  FST_ERR_BAD_URL: 'VGL_BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'VGL_BAD_URL',
};

function isValidationErrorList(value: unknown): value is FastifySchemaValidationError[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null && 'instancePath' in v);
}

/** At most this many validation problems are listed: a huge invalid array must not make a huge answer. */
const maxListedProblems = 25;

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v) => typeof v === 'string') : typeof value === 'string' ? [value] : [];
}

/**
 * Schema failures as RFC 9457 "pointer" entries. Missing and unexpected properties point at the property itself
 * rather than at the object that holds it; the validator's duplicate "schema is false" entry for an unexpected
 * property is dropped.
 */
function validationProblems(list: readonly FastifySchemaValidationError[], part: string): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  for (const v of list) {
    if (v.keyword === 'boolean' && v.schemaPath.endsWith('/additionalProperties')) continue;
    if (v.keyword === 'required') {
      // TypeBox lists `requiredProperties`; Ajv names one `missingProperty`.
      for (const name of [...stringList(v.params['requiredProperties']), ...stringList(v.params['missingProperty'])]) {
        problems.push({ in: part, pointer: `#${v.instancePath}/${name}`, detail: 'is required' });
      }
      continue;
    }
    if (v.keyword === 'additionalProperties') {
      for (const name of [...stringList(v.params['additionalProperties']), ...stringList(v.params['additionalProperty'])]) {
        problems.push({ in: part, pointer: `#${v.instancePath}/${name}`, detail: 'is not allowed' });
      }
      continue;
    }
    problems.push({ in: part, pointer: `#${v.instancePath}`, detail: v.message ?? `fails ${v.keyword}` });
  }
  return problems.slice(0, maxListedProblems);
}

/** Whether a failure is the server's (log it) or the client's (answer it and move on). */
export interface Classified extends ProblemSpec {
  readonly serverFault: boolean;
}

/**
 * The one place any thrown value becomes an HTTP answer. A client's mistake is a 4xx with a useful detail; anything
 * the edge does not recognise is a 500 whose detail says nothing about the cause.
 */
export function classifyError(error: unknown, bodyLimit: number): Classified {
  if (isVigilError(error)) {
    const status = error.statusCode >= 400 && error.statusCode <= 599 ? error.statusCode : 500;
    if (status >= 500) return { status, code: error.code, detail: serverDetails[status] ?? genericServerDetail, serverFault: true };
    return { status, code: error.code, detail: error.message, ...(error.details ? { errors: error.details } : {}), serverFault: false };
  }
  if (typeof error === 'object' && error !== null) {
    if ('validation' in error && isValidationErrorList(error.validation)) {
      const part = 'validationContext' in error && typeof error.validationContext === 'string' ? error.validationContext : 'request';
      return {
        status: 400,
        code: 'VGL_VALIDATION',
        detail: `The request ${part} does not match its schema.`,
        errors: validationProblems(error.validation, part),
        serverFault: false,
      };
    }
    const status = 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
    const fastifyCode = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
    if (status !== undefined && status >= 400 && status < 500) {
      const code = fastifyCode ? fastifyClientCodes[fastifyCode] : undefined;
      if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return { status: 413, code: 'VGL_BODY_TOO_LARGE', detail: `The request body is larger than ${bodyLimit} bytes.`, serverFault: false };
      }
      if (fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        return { status: 400, code: 'VGL_MALFORMED_BODY', detail: 'The request body is not valid JSON.', serverFault: false };
      }
      const message = error instanceof Error ? error.message : undefined;
      // fastify's own messages describe the request; a 4xx from anywhere else keeps only its status phrase.
      const detail = code && message ? message : (STATUS_CODES[status] ?? 'Bad request');
      return { status, detail, ...(code ? { code } : {}), serverFault: false };
    }
  }
  return { status: 500, code: 'VGL_INTERNAL', detail: genericServerDetail, serverFault: true };
}

export interface ProblemOptions {
  readonly bodyLimit: number;
}

/** The error and not-found handlers of the whole edge, set once at the root so every route answers alike. */
const problems: FastifyPluginCallback<ProblemOptions> = (app, options, done) => {
  app.setErrorHandler((error, request, reply) => {
    const problem = classifyError(error, options.bodyLimit);
    // A client's mistake needs no line of its own: the request's line carries its status and code.
    if (problem.serverFault) request.log.error({ err: error, code: problem.code }, 'request failed');
    return sendProblem(request, reply, problem);
  });
  app.setNotFoundHandler((request, reply) => {
    sendProblem(request, reply, { status: 404, code: 'VGL_NOT_FOUND', detail: `No route answers ${request.method} ${request.url.split('?', 1)[0] ?? '/'}.` });
  });
  done();
};

export const problemPlugin = fp(problems, { name: 'vigil-problems', fastify: '5.x' });
