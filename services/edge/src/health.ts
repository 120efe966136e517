import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Bus, WorkerStatus } from '@vigil/bus';
import Type, { type Static } from 'typebox';
import { checkHealth, defaultTimeouts, type Check, type CheckTimeouts } from './health-checks.ts';
import { problemBody, problemContentType, problemProperties, problemResponses } from './problem.ts';

export interface HealthOptions {
  readonly bus: Bus;
  readonly version: string;
  /** Services that must answer before the edge reports ready. */
  readonly requiredWorkers: readonly string[];
  readonly timeouts?: CheckTimeouts;
}

const HealthCheck = Type.Object({
  name: Type.String({ description: '`nats`, `stream:<NAME>`, `worker:<service>` or `migrations:<service>/<instance>`.' }),
  ok: Type.Boolean(),
  latency_ms: Type.Integer({ minimum: 0 }),
  error: Type.Optional(Type.String({ description: 'Why the check failed.' })),
  messages: Type.Optional(Type.Integer({ minimum: 0, description: 'Messages in the stream (stream checks).' })),
});
type HealthCheck = Static<typeof HealthCheck>;

const Live = Type.Object({ status: Type.Literal('ok') }, { description: 'The process is up.' });

const Ready = Type.Object({ status: Type.Literal('ready'), checks: Type.Array(HealthCheck) }, { description: 'Ready: every check passed.' });

const NotReady = Type.Object(
  { ...problemProperties, checks: Type.Array(HealthCheck, { description: 'Every check, the failing ones with `ok: false`.' }) },
  { description: 'RFC 9457 problem details listing the checks' },
);

const WorkerStatusSchema = Type.Object({
  service: Type.String(),
  instance: Type.String(),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  database: Type.Optional(
    Type.Object({ kind: Type.String(), latencyMs: Type.Union([Type.Number(), Type.Null()]), error: Type.Optional(Type.String()) }),
  ),
  migrations: Type.Optional(Type.Object({ known: Type.Integer(), applied: Type.Integer() })),
  projections: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String(),
        checkpoint: Type.Integer(),
        pending: Type.Union([Type.Integer(), Type.Null()]),
        active: Type.Boolean(),
      }),
    ),
  ),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
type WorkerStatusView = Static<typeof WorkerStatusSchema>;

const Projection = Type.Object({
  service: Type.String(),
  instance: Type.String(),
  name: Type.String(),
  checkpoint: Type.Integer({ description: 'Last stream sequence applied.' }),
  pending: Type.Union([Type.Integer(), Type.Null()], { description: 'Messages not yet applied (consumer lag); null when unknown.' }),
  active: Type.Boolean(),
});
type Projection = Static<typeof Projection>;

const Detailed = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  version: Type.String(),
  uptime_seconds: Type.Number(),
  checks: Type.Array(HealthCheck),
  workers: Type.Array(WorkerStatusSchema),
  projections: Type.Array(Projection),
}, { description: 'The state of the edge and of everything it depends on.' });

function checkView(c: Check): HealthCheck {
  return {
    name: c.name,
    ok: c.ok,
    latency_ms: c.latencyMs,
    ...(c.error === undefined ? {} : { error: c.error }),
    ...(c.messages === undefined ? {} : { messages: c.messages }),
  };
}

/** A copy in the response's own (mutable) shape; fields a worker adds beyond the contract are left out. */
function workerView(w: WorkerStatus): WorkerStatusView {
  return {
    service: w.service,
    instance: w.instance,
    version: w.version,
    uptimeSeconds: w.uptimeSeconds,
    ...(w.database ? { database: { ...w.database } } : {}),
    ...(w.migrations ? { migrations: { ...w.migrations } } : {}),
    ...(w.projections ? { projections: w.projections.map((p) => ({ ...p })) } : {}),
    ...(w.details ? { details: { ...w.details } } : {}),
  };
}

function projectionsOf(workers: readonly WorkerStatus[]): Projection[] {
  return workers.flatMap((w) => (w.projections ?? []).map((p) => ({ service: w.service, instance: w.instance, ...p })));
}

/** Liveness, readiness and the detailed report an operator reads. Mounted under /health. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, options) => {
  const timeouts = options.timeouts ?? defaultTimeouts;

  app.get(
    '/live',
    {
      config: { public: true },
      // Probes arrive every few seconds; their request lines would drown the log.
      logLevel: 'warn',
      schema: {
        summary: 'Liveness',
        description: 'Answers 200 while the process is up. Checks nothing else: restarting cannot cure a dependency.',
        tags: ['health'],
        response: { 200: Live, ...problemResponses },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { public: true },
      logLevel: 'warn',
      schema: {
        summary: 'Readiness',
        description:
          'Answers 200 when NATS answers, every stream exists, every required worker answered its status request and ' +
          'every worker that owns a database has applied its migrations; otherwise 503 with the checks.',
        tags: ['health'],
        response: {
          200: Ready,
          503: { description: 'Not ready: the checks, failing ones with `ok: false`.', content: { [problemContentType]: { schema: NotReady } } },
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const report = await checkHealth(options.bus, options.requiredWorkers, timeouts);
      const checks = report.checks.map(checkView);
      if (report.ok) return reply.code(200).send({ status: 'ready', checks });
      const failing = report.checks.filter((c) => !c.ok).map((c) => c.name);
      const problem = problemBody(request, { status: 503, code: 'VGL_NOT_READY', detail: `Not ready: ${failing.join(', ')}.` });
      return reply.code(503).type(problemContentType).send({ ...problem, checks });
    },
  );

  app.get(
    '/detailed',
    {
      config: { public: true },
      schema: {
        summary: 'Detailed health',
        description:
          'Always 200 while the process works: NATS round trip, each stream and its message count, each worker status ' +
          'and the lag of each projection. `status` is `degraded` when a check fails.',
        tags: ['health'],
        response: { 200: Detailed, ...problemResponses },
      },
    },
    async () => {
      const report = await checkHealth(options.bus, options.requiredWorkers, timeouts);
      return {
        status: report.ok ? ('ok' as const) : ('degraded' as const),
        version: options.version,
        uptime_seconds: Math.round(process.uptime()),
        checks: report.checks.map(checkView),
        workers: report.workers.map(workerView),
        projections: projectionsOf(report.workers),
      };
    },
  );
};
