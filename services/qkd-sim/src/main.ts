// The QKD link simulator on its own (NATS_URL required); `pnpm start` runs it with every other service.
import { runUntilSignal } from '@vigil/runtime';
import { qkdSimService } from './service.ts';

await runUntilSignal('qkd-sim', [qkdSimService], { embeddedNats: false }, (running) => running.bus.logger.info('QKD link simulator ready'));
