import type { Served } from '@vigil/bus';
import type { ServiceModule } from '@vigil/runtime';
import { startProjector, type RunningProjector } from '@vigil/store';
import type { RetentionPolicy } from './partition-plan.ts';
import { createTelemetryProjection, devicesProjection } from './projections.ts';
import { serveTelemetryQueries } from './query-service.ts';
import { maintainTelemetryStorage, prepareTelemetryStorage, type MaintenanceResult } from './telemetry-storage.ts';

/** Partitions made ahead of today, and the furthest ahead a reading may lie. */
export const partitionsAheadDays = 7;

export interface TelemetryServiceOptions {
  /** Events per projector transaction (default 1000: readings are small, fewer commits go further). */
  readonly batchSize?: number;
  readonly leaseTtlMs?: number;
  /** How often partitions ahead are made and expired ones dropped (default hourly; also once at start). */
  readonly maintenanceEveryMs?: number;
  /** Longest wait for `min_seq` (default 2 s). */
  readonly readYourWritesTimeoutMs?: number;
  /** The clock of the kept window and of maintenance (tests move it). */
  readonly now?: () => number;
}

/** The retention policy of a configuration. */
export function retentionPolicyOf(config: { readonly VIGIL_TELEMETRY_RETENTION_DAYS: number }): RetentionPolicy {
  return { retentionDays: config.VIGIL_TELEMETRY_RETENTION_DAYS, aheadDays: partitionsAheadDays };
}

/**
 * The telemetry service: projects DEVICE_REGISTRY into `devices` and DEVICE_TELEMETRY into `telemetry_readings`
 * and `device_status` (one active projector each, a lease), keeps the readings' partitions, and answers
 * `qry.devices.*` and `qry.telemetry.*` for the caller's tenant.
 */
export function createTelemetryService(options: TelemetryServiceOptions = {}): ServiceModule {
  const now = options.now ?? Date.now;
  return {
    name: 'telemetry',
    usesDatabase: true,
    async start(context) {
      const { bus, database, logger, config } = context;
      if (!database) throw new Error('the telemetry service needs the read-model database');
      const policy = retentionPolicyOf(config);
      const storage = await prepareTelemetryStorage(database);
      let outOfWindow = 0;
      let lastMaintenance: (MaintenanceResult & { at: string }) | { error: string; at: string } | undefined;
      const maintain = async () => {
        try {
          const result = await maintainTelemetryStorage(database, policy, now());
          lastMaintenance = { ...result, at: new Date().toISOString() };
          if (result.created.length + result.dropped.length > 0) logger.info({ created: result.created, dropped: result.dropped }, 'telemetry partitions maintained');
        } catch (err) {
          lastMaintenance = { error: err instanceof Error ? err.message : String(err), at: new Date().toISOString() };
          logger.error({ err }, 'telemetry storage maintenance failed; retrying at the next pass');
        }
      };
      await maintain();
      let maintaining: Promise<void> | undefined;
      const timer = setInterval(() => {
        maintaining ??= maintain().finally(() => (maintaining = undefined));
      }, options.maintenanceEveryMs ?? 60 * 60 * 1000);
      timer.unref();

      const telemetryProjection = createTelemetryProjection({
        policy,
        now,
        onOutOfWindow: (count) => {
          outOfWindow += count;
          logger.warn({ count }, 'readings outside the kept window were not stored');
        },
      });
      const projectorOptions = {
        instance: context.instance,
        ...(options.leaseTtlMs ? { leaseTtlMs: options.leaseTtlMs } : {}),
      };
      const projections: RunningProjector[] = [
        await startProjector(bus, database, devicesProjection, projectorOptions),
        await startProjector(bus, database, telemetryProjection, { ...projectorOptions, batchSize: options.batchSize ?? 1000 }),
      ];
      const served: Served[] = serveTelemetryQueries({
        bus,
        database,
        projections: { devices: devicesProjection.name, telemetry: telemetryProjection.name },
        ...(options.readYourWritesTimeoutMs ? { readYourWritesTimeoutMs: options.readYourWritesTimeoutMs } : {}),
      });
      logger.info({ storage, retention_days: policy.retentionDays }, 'telemetry projections and queries running');
      return {
        projections,
        async details() {
          return { storage, retention_days: policy.retentionDays, readings_out_of_window: outOfWindow, maintenance: lastMaintenance ?? null };
        },
        async stop() {
          clearInterval(timer);
          for (const s of served) await s.stop();
          for (const p of projections) await p.stop();
          await maintaining;
        },
      };
    },
  };
}

export const telemetryService: ServiceModule = createTelemetryService();
