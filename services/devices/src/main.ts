// The device services on their own (NATS_URL required); `pnpm start` runs them with every other service.
import { runUntilSignal } from '@vigil/runtime';
import { devicesService } from './service.ts';

await runUntilSignal('devices', [devicesService], { embeddedNats: false }, (running) => running.bus.logger.info('device services ready'));
