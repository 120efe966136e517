import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { problemResponses } from './problem.ts';

export interface OpenApiOptions {
  readonly version: string;
}

export const docsPrefix = '/docs';

/**
 * swagger-ui loads only its own files and the document, from this origin. Helmet's default CSP would also do,
 * but for `upgrade-insecure-requests`, which breaks the page when the edge is reached over plain HTTP.
 */
const docsContentSecurityPolicy = [
  "default-src 'self'",
  "base-uri 'self'",
  "font-src 'self' data:",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
].join('; ');

const OpenApiDocument = Type.Object(
  {
    openapi: Type.String(),
    info: Type.Object({ title: Type.String(), version: Type.String() }, { additionalProperties: true }),
    paths: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true, description: 'An OpenAPI 3.1 document.' },
);

/**
 * The OpenAPI document, generated from the route schemas (so it cannot drift from what the edge validates),
 * served at /openapi.json and browsable at /docs. Registered before any route so @fastify/swagger sees them all.
 */
const openapi: FastifyPluginAsyncTypebox<OpenApiOptions> = async (app, options) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vigil',
        version: options.version,
        description: 'Quantum key delivery, identity and access, and IoT devices on one event bus. Errors are RFC 9457 problem details.',
      },
      tags: [
        { name: 'health', description: 'Liveness, readiness and detailed health.' },
        { name: 'operations', description: 'Metrics and the API description.' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: docsPrefix, staticCSP: docsContentSecurityPolicy });

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: {
        summary: 'OpenAPI document',
        description: 'The OpenAPI 3.1 description of every route of this edge.',
        tags: ['operations'],
        response: { 200: OpenApiDocument, ...problemResponses },
      },
    },
    async () => {
      const document = app.swagger();
      // Configured as OpenAPI 3.1 above; a Swagger 2.0 document here would be a bug in this module.
      if (!('openapi' in document)) throw new Error('@fastify/swagger produced a Swagger 2.0 document');
      return document;
    },
  );
};

export const openapiPlugin = fp(openapi, { name: 'vigil-openapi', fastify: '5.x' });
