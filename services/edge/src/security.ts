import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { requestIdHeader } from './request-context.ts';

export interface SecurityOptions {
  /** Origins allowed by CORS; empty turns CORS off (no browser on another origin may call the API). */
  readonly corsOrigins: readonly string[];
}

/** Security headers on every response, and CORS for the configured origins only. */
const security: FastifyPluginAsync<SecurityOptions> = async (app, options) => {
  // Helmet's defaults everywhere; /docs sets its own CSP (see openapi.ts) because swagger-ui needs a little more.
  await app.register(helmet);
  if (options.corsOrigins.length === 0) return;
  await app.register(cors, {
    // A browser's Origin has no path or trailing slash; a configured URL may, so compare origins.
    origin: options.corsOrigins.map((o) => new URL(o).origin),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', requestIdHeader],
    exposedHeaders: [requestIdHeader],
    maxAge: 600,
  });
};

export const securityPlugin = fp(security, { name: 'vigil-security', fastify: '5.x' });
