import type { Bus } from '@vigil/bus';
import type { Config } from '@vigil/config';
import type { KekRing } from '@vigil/crypto';
import { kekFilePath, loadKekRing } from '@vigil/kme-contract';
import type { Logger } from '@vigil/log';
import { StartupError } from '@vigil/runtime';
import { buildEtsiListener, type EtsiListener, type EtsiListenerOptions } from './listener.ts';
import { countersView } from './tls-counters.ts';
import { readTlsMaterial, tlsFilesOf } from './tls-material.ts';
import { reloadTlsOnChange } from './tls-reload.ts';

export interface RunningEtsiListener extends EtsiListener {
  /** `https://host:port`. */
  readonly url: string;
  details(): Record<string, unknown>;
  close(): Promise<void>;
}

/** The KEK ring, from the same file the KME workers use (VIGIL_KME_KEK_FILE, or the one in VIGIL_DATA_DIR). */
function kekRingOf(config: Config): KekRing {
  const path = kekFilePath(config);
  try {
    return loadKekRing(path);
  } catch (err) {
    const reason = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : err instanceof Error ? err.message : String(err);
    throw new StartupError(`the ETSI GS QKD 014 listener needs the KME key-encryption keys: cannot load ${path} (${reason}); set VIGIL_KME_KEK_FILE`);
  }
}

/**
 * Reads the listener's files from the settings (one clear line when one is missing), then listens on
 * VIGIL_ETSI_HOST:VIGIL_ETSI_PORT and watches the TLS files for changes.
 */
export async function startEtsiListener(
  context: { readonly config: Config; readonly bus: Bus; readonly logger: Logger },
  tuning: { readonly reloadIntervalMs?: number; readonly audit?: EtsiListenerOptions['audit'] } = {},
): Promise<RunningEtsiListener> {
  const { config } = context;
  const files = tlsFilesOf(config);
  const tls = readTlsMaterial(files);
  const ring = kekRingOf(config);
  if (!files.crl) context.logger.warn('VIGIL_TLS_CRL_FILE is not set: revoked SAE certificates are not refused');
  const listener = await buildEtsiListener({ ...context, tls, ring, ...(tuning.audit ? { audit: tuning.audit } : {}) });
  let url: string;
  try {
    url = await listener.app.listen({ host: config.VIGIL_ETSI_HOST, port: config.VIGIL_ETSI_PORT });
  } catch (err) {
    await listener.app.close();
    const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new StartupError(`VIGIL_ETSI_PORT: cannot listen on ${config.VIGIL_ETSI_HOST}:${config.VIGIL_ETSI_PORT} (${code})`);
    throw err;
  }
  const stopWatching = reloadTlsOnChange(listener.app.server, files, tuning.reloadIntervalMs ?? 2000, context.logger);
  return {
    ...listener,
    url,
    details: () => ({ url, ...countersView(listener.counters) }),
    async close() {
      stopWatching();
      await listener.app.close();
    },
  };
}
