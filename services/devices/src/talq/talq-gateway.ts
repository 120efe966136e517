import type { Bus } from '@vigil/bus';
import type { Logger } from '@vigil/log';
import type { Backoff } from '../backoff.ts';
import type { DeviceDirectory } from '../registry/device-directory.ts';
import type { RegistryWorker } from '../registry/registry-worker.ts';
import { startTalqListener, type TalqListener } from './talq-listener.ts';
import { TalqLogReporter } from './talq-log-reporter.ts';
import type { TalqSettings } from './talq-settings.ts';

export interface TalqGatewayOptions {
  readonly settings: TalqSettings;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly directory: Pick<DeviceDirectory, 'get' | 'byTalqAddress' | 'talqDevices'>;
  readonly registry: Pick<RegistryWorker, 'sendCommand'>;
  /** Waits between attempts to deliver a log report (tests shorten them). */
  readonly reportRetry?: Backoff;
}

export interface TalqGateway {
  /** Where the listener is, when there is one. */
  readonly endpoints: readonly string[];
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

/** Vigil as a TALQ gateway for one tenant: log reports pushed to the CMS, and the listener the CMS commands through. */
export async function startTalqGateway(options: TalqGatewayOptions): Promise<TalqGateway> {
  const { settings, bus, logger, directory, registry } = options;
  let reporter: TalqLogReporter | undefined;
  let listener: TalqListener | undefined;
  try {
    if (settings.reports) {
      reporter = new TalqLogReporter({
        bus,
        logger,
        directory,
        tenant: settings.tenant,
        gatewayAddress: settings.gatewayAddress,
        ...settings.reports,
        ...(options.reportRetry ? { retry: options.reportRetry } : {}),
      });
      await reporter.start();
    }
    if (settings.listener) {
      listener = await startTalqListener({ ...settings.listener, tenant: settings.tenant, directory, registry, logger });
    }
  } catch (err) {
    await reporter?.stop();
    throw err;
  }
  const running = { reporter, listener };
  return {
    endpoints: running.listener ? [`${running.listener.url}  (TALQ gateway for tenant ${settings.tenant})`] : [],
    status: () => ({
      tenant: settings.tenant,
      gateway_address: settings.gatewayAddress,
      ...(running.reporter ? { log_reports: running.reporter.status() } : {}),
      ...(running.listener ? { listener: { url: running.listener.url, ...running.listener.counts } } : {}),
    }),
    async stop() {
      // The listener first: no new command while the reports still in flight finish.
      await running.listener?.close();
      await running.reporter?.stop();
    },
  };
}
