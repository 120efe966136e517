/**
 * The edge on its own, for deployments where each service is its own process (NATS_URL required). `pnpm start`
 * (services/vigil) runs it in one process with everything else instead.
 */
import { runUntilSignal } from '@vigil/runtime';
import { edgeService } from './service.ts';

await runUntilSignal('edge', [edgeService], { embeddedNats: false }, (running) => {
  for (const { started } of running.services) for (const e of started.endpoints ?? []) running.bus.logger.info(`edge listening on ${e}`);
});
