import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BadRequestError, request, type Bus } from '@vigil/bus';
import { currentContext } from '@vigil/log';
import Type from 'typebox';

/** Test-only routes, each with a complete schema (the edge refuses routes without one). */
export const testRoutes: FastifyPluginAsyncTypebox<{ bus: Bus }> = async (app, { bus }) => {
  const tags = ['test'];
  const Echo = Type.Object({ text: Type.String({ maxLength: 4000 }) }, { additionalProperties: false });
  const Seen = Type.Object({ correlationId: Type.String(), handlerContext: Type.Union([Type.String(), Type.Null()]) });

  app.post('/echo', { schema: { summary: 'Echo', tags, body: Echo, response: { 200: Echo } } }, async (req) => ({ text: req.body.text }));

  app.get('/vigil-error', { schema: { summary: 'Throws a declared error', tags, response: { 200: Echo } } }, async () => {
    throw new BadRequestError('the widget is missing');
  });

  app.get('/crash', { schema: { summary: 'Throws an undeclared error', tags, response: { 200: Echo } } }, async () => {
    throw new Error('database password=hunter2 at 10.0.0.7 refused');
  });

  // Asks a (test) worker over the bus; the worker answers with the correlation id it received.
  const ask = async (data: unknown) => {
    const handlerContext = currentContext()?.correlationId ?? null;
    app.log.info('asking the test worker');
    const answer = await request(bus, 'qry.test.whoami', data, {
      timeoutMs: 2000,
      parse: (r: unknown) => {
        if (typeof r === 'object' && r !== null && 'correlationId' in r && typeof r.correlationId === 'string') return r.correlationId;
        throw new Error('unexpected answer');
      },
    });
    return { correlationId: answer, handlerContext };
  };
  app.get('/bus', { schema: { summary: 'Bus request (GET)', tags, response: { 200: Seen } } }, async () => ask({}));
  app.post('/bus', { schema: { summary: 'Bus request (POST)', tags, body: Echo, response: { 200: Seen } } }, async (req) => ask(req.body));
};
