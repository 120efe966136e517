// The telemetry service on its own (NATS_URL and DATABASE_URL); `pnpm start` runs it with every other service.
import { runUntilSignal } from '@vigil/runtime';
import { telemetryService } from './service.ts';

await runUntilSignal('telemetry', [telemetryService], { embeddedNats: false }, (running) =>
  running.bus.logger.info('telemetry service running: devices and readings projections, device and telemetry queries'),
);
