import type { ServiceModule } from '@vigil/runtime';
import { startProjector } from '@vigil/store';
import { serveAuditQueries } from './audit-query.ts';
import { checkpointPublisher } from './checkpoints.ts';
import { auditProjection } from './projection.ts';
import { startSummarisers } from './summariser.ts';

export interface AuditServiceOptions {
  /** A checkpoint is published at every multiple of this many records (default 1000). */
  readonly checkpointEvery?: number;
  /** Events per projector transaction (default 500). */
  readonly batchSize?: number;
  readonly leaseTtlMs?: number;
}

/**
 * The audit service: summarises state changes of the other streams onto AUDIT, projects AUDIT into the chained
 * audit_log table (one active projector, a lease), publishes the chain's checkpoints back to AUDIT, and answers
 * audit queries (every replica, whether or not it holds the projector's lease).
 */
export function createAuditService(options: AuditServiceOptions = {}): ServiceModule {
  const every = options.checkpointEvery ?? 1000;
  return {
    name: 'audit',
    usesDatabase: true,
    async start(context) {
      const { bus, database, logger } = context;
      if (!database) throw new Error('the audit service needs the read-model database');
      const checkpoints = checkpointPublisher(bus, database, every, logger);
      const projector = await startProjector(bus, database, auditProjection, {
        instance: context.instance,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        ...(options.leaseTtlMs ? { leaseTtlMs: options.leaseTtlMs } : {}),
        onCommit: () => checkpoints.request(),
      });
      const summarisers = await startSummarisers(bus);
      const queries = serveAuditQueries(bus, database);
      checkpoints.request();
      return {
        projections: [projector],
        async details() {
          return { checkpoint_every: every, summarisers: await Promise.all(summarisers.map(async (s) => ({ name: s.name, ...(await s.lag()) }))) };
        },
        async stop() {
          await queries.stop();
          await Promise.all(summarisers.map((s) => s.stop()));
          await projector.stop();
          await checkpoints.settled();
        },
      };
    },
  };
}

export const auditService: ServiceModule = createAuditService();
