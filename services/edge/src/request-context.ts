import type { IncomingMessage } from 'node:http';
import { uuidv7 } from '@vigil/crypto';
import { withContext, type WorkContext } from '@vigil/log';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { logRequest } from './request-log.ts';

export const requestIdHeader = 'x-request-id';

/** Short and free of anything that could break a log line, a header or a NATS header. */
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * fastify's `genReqId`: the id a proxy or client sent, so one request can be followed across systems, when it is a
 * sane token; otherwise a new UUIDv7.
 */
export function requestIdOf(raw: IncomingMessage): string {
  const given = raw.headers[requestIdHeader];
  return typeof given === 'string' && saneRequestId.test(given) ? given : uuidv7();
}

export function workContextOf(request: FastifyRequest): WorkContext {
  return { correlationId: request.id, requestId: request.id };
}

/**
 * Runs each request inside its work context, so log lines and bus requests made while handling it carry its id,
 * and logs it once when it completes (request-log.ts). Hooks must be shared by every route, hence fastify-plugin.
 */
const requestContext: FastifyPluginCallback = (app, _options, done) => {
  app.addHook('onRequest', (request, reply, next) => {
    reply.header(requestIdHeader, request.id);
    withContext(workContextOf(request), next);
  });
  // Validation and the handler run after the body is read from the socket. Node 20 keeps the context through
  // that read (tested), but neither Node nor fastify promises it (@fastify/request-context re-enters here too),
  // so the context is entered again: it costs one AsyncLocalStorage.run per request.
  app.addHook('preValidation', (request, _reply, next) => {
    withContext(workContextOf(request), next);
  });
  app.addHook('onResponse', logRequest);
  done();
};

export const requestContextPlugin = fp(requestContext, { name: 'vigil-request-context', fastify: '5.x' });
