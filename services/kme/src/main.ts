// The KME worker on its own (NATS_URL required); `pnpm start` runs it with every other service.
import { runUntilSignal } from '@vigil/runtime';
import { kmeService } from './service.ts';

await runUntilSignal('kme', [kmeService], { embeddedNats: false }, (running) => running.bus.logger.info('KME worker ready'));
