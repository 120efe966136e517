import { edgeService } from '@vigil/edge';
import type { ServiceModule } from '@vigil/runtime';

/**
 * The services `pnpm start` runs, in start order. This package is Vigil's composition root: the one place that
 * imports services, so that no service imports another.
 */
export const allServices: readonly ServiceModule[] = [edgeService];
