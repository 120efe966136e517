// The identity worker on its own (NATS_URL required); `pnpm start` runs it with every other service.
import { runUntilSignal } from '@vigil/runtime';
import { identityService } from './service.ts';

await runUntilSignal('identity', [identityService], { embeddedNats: false }, (running) => running.bus.logger.info('identity worker ready'));
