/**
 * The audit service on its own, for deployments where each service is its own process (NATS_URL and DATABASE_URL).
 * `pnpm start` (services/vigil) runs it in one process with everything else instead.
 */
import { runUntilSignal } from '@vigil/runtime';
import { auditService } from './service.ts';

await runUntilSignal('audit', [auditService], { embeddedNats: false }, (running) => {
  running.bus.logger.info('audit service running: summaries, audit_log projection, chain checkpoints');
});
