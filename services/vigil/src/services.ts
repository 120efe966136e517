import { auditService } from '@vigil/audit';
import { devicesService } from '@vigil/devices';
import { edgeService } from '@vigil/edge';
import { identityService } from '@vigil/identity';
import { kmeService } from '@vigil/kme';
import { qkdSimService } from '@vigil/qkd-sim';
import type { ServiceModule } from '@vigil/runtime';
import { telemetryService } from '@vigil/telemetry';

/**
 * The services `pnpm start` runs, in start order (workers before the edge, so it is ready when it listens). This
 * package is Vigil's composition root: the one place that imports services, so that no service imports another.
 */
export const allServices: readonly ServiceModule[] = [kmeService, qkdSimService, auditService, identityService, devicesService, telemetryService, edgeService];
