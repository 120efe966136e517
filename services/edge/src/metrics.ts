import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { rejectionCounts, type Bus } from '@vigil/bus';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import Type from 'typebox';
import { problemResponses } from './problem.ts';
import { routeOf } from './request-log.ts';
import { registerWorkerGauges } from './worker-gauges.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** This edge's Prometheus registry: plugins registered after the metrics plugin add their own metrics to it. */
    readonly metricsRegistry: Registry;
  }
}

/**
 * Prometheus metrics in a registry of this edge's own (not prom-client's global one), so two edges in one
 * process do not clash. Counting happens in onResponse, off the path that answers the client.
 */
const metrics: FastifyPluginAsyncTypebox<{ bus: Bus }> = async (app, options) => {
  const registry = new Registry();
  app.decorate('metricsRegistry', registry);
  collectDefaultMetrics({ register: registry });
  registerWorkerGauges(registry, options.bus);
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by method, route pattern and status.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'vigil_terminated_messages',
    help: 'Messages terminated as unprocessable by the consumers of this process, by consumer.',
    labelNames: ['consumer'] as const,
    registers: [registry],
    // Read at scrape time from the bus's own tally, so terminating a message costs nothing extra.
    collect() {
      for (const [consumer, count] of rejectionCounts) this.set({ consumer }, count);
    },
  });

  app.addHook('onResponse', (request, reply, done) => {
    const labels = { method: request.method, route: routeOf(request), status: reply.statusCode };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onClose', (_app, done) => {
    registry.clear();
    done();
  });

  app.get(
    '/metrics',
    {
      config: { public: true },
      logLevel: 'warn',
      schema: {
        summary: 'Prometheus metrics',
        description: 'Process metrics, HTTP request counts and durations, terminated bus messages, API key lookups, and gauges read from the workers (key pools, QKD links, device brokers), in the Prometheus text format.',
        tags: ['operations'],
        response: {
          200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: Type.String() } } },
          ...problemResponses,
        },
      },
    },
    async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  );
};

export const metricsPlugin = fp(metrics, { name: 'vigil-metrics', fastify: '5.x' });
