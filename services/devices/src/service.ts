import type { ServiceModule } from '@vigil/runtime';
import { listenerOptions } from './broker/broker-settings.ts';
import { DeviceBroker } from './broker/device-broker.ts';
import { DeviceDirectory } from './registry/device-directory.ts';
import { RegistryWorker } from './registry/registry-worker.ts';
import { TenantLimits } from './registry/tenant-limits.ts';
import { startTalqGateway } from './talq/talq-gateway.ts';
import { talqSettingsOf } from './talq/talq-settings.ts';
import { Uplink } from './uplink/uplink.ts';
import { uplinkSettingsOf } from './uplink/uplink-settings.ts';

/**
 * The device services of one process: the registry's command side, the in-memory directory devices authenticate
 * against, the MQTT broker, the uplink to an upstream platform and the TALQ gateway. No database: read models belong
 * to the telemetry service.
 */
export const devicesService: ServiceModule = {
  name: 'devices',
  usesDatabase: false,
  async start(context) {
    const { bus, logger } = context;
    // Read before anything starts, so that a bad setting stops the start with nothing left running.
    const uplinkSettings = uplinkSettingsOf(context.config);
    const talqSettings = talqSettingsOf(context.config);
    // One view of the tenants (quotas, suspensions) for the registry and the broker.
    const tenantLimits = new TenantLimits(bus);
    await tenantLimits.start();
    const registry = new RegistryWorker({ bus, logger, defaultMaxDevices: context.config.VIGIL_TENANT_MAX_DEVICES, tenantLimits });
    const directory = new DeviceDirectory(bus);
    await directory.start();
    registry.start();
    const endpoints: string[] = [];
    const stops: (() => Promise<void>)[] = [() => tenantLimits.stop(), () => registry.stop(), () => directory.stop()];
    const details: Record<string, () => Promise<unknown>> = {};
    // The MQTT broker devices connect to; it authenticates against the directory, so it starts after it.
    const { config } = context;
    const broker = new DeviceBroker({
      bus,
      directory,
      logger,
      listen: listenerOptions(config),
      heartbeatSeconds: config.VIGIL_DEVICE_HEARTBEAT_SECONDS,
      maxMessagesPerSecond: config.VIGIL_DEVICE_MAX_MESSAGES_PER_SECOND,
      maxPayloadBytes: config.VIGIL_DEVICE_MAX_PAYLOAD_BYTES,
      tenants: tenantLimits,
    });
    await broker.start();
    endpoints.push(...broker.listening.map((l) => `${l.url}  (MQTT for devices, ${l.transport})`));
    stops.push(() => broker.stop());
    details['mqtt'] = () => broker.details();
    // The uplink to an upstream platform (VIGIL_UPLINK_URL): it maps serial numbers with the directory.
    if (uplinkSettings) {
      const uplink = new Uplink({ settings: uplinkSettings, bus, logger, directory });
      uplink.start();
      stops.push(() => uplink.stop());
      details['uplink'] = () => Promise.resolve(uplink.status());
    }
    // The TALQ gateway (VIGIL_TALQ_TENANT): log reports to the CMS, override commands from it.
    if (talqSettings) {
      const talq = await startTalqGateway({ settings: talqSettings, bus, logger, directory, registry });
      endpoints.push(...talq.endpoints);
      stops.push(() => talq.stop());
      details['talq'] = () => Promise.resolve(talq.status());
    }
    return {
      endpoints,
      details: async () => Object.fromEntries(await Promise.all(Object.entries(details).map(async ([k, f]) => [k, await f()] as const))),
      async stop() {
        // Last started, first stopped: the broker and uplink stop taking messages before the directory goes.
        for (const stop of stops.reverse()) await stop();
      },
    };
  },
};
