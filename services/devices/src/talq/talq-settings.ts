import { readFileSync } from 'node:fs';
import type { Config } from '@vigil/config';
import { StartupError } from '@vigil/runtime';
import type { CmsEndpoint } from './cms-client.ts';

export interface TalqSettings {
  readonly tenant: string;
  readonly gatewayAddress: string;
  /** Log reports pushed to the CMS (VIGIL_TALQ_CMS_URL). */
  readonly reports?: { readonly cms: CmsEndpoint; readonly loggerAddress: string; readonly intervalMs: number; readonly maxEntries: number };
  /** The listener the CMS sends override commands to (VIGIL_TALQ_PORT). */
  readonly listener?: {
    readonly host: string;
    readonly port: number;
    readonly cmsAddress: string;
    readonly secret?: string;
    readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer };
  };
}

/** The TALQ gateway's settings, files read; undefined when VIGIL_TALQ_TENANT is unset (no TALQ gateway). */
export function talqSettingsOf(config: Config): TalqSettings | undefined {
  const tenant = config.VIGIL_TALQ_TENANT;
  if (tenant === undefined) {
    if (config.VIGIL_TALQ_CMS_URL !== undefined || config.VIGIL_TALQ_PORT !== undefined) throw new StartupError('VIGIL_TALQ_CMS_URL and VIGIL_TALQ_PORT need VIGIL_TALQ_TENANT');
    return undefined;
  }
  const gatewayAddress = config.VIGIL_TALQ_GATEWAY_ADDRESS;
  if (gatewayAddress === undefined) throw new StartupError('VIGIL_TALQ_GATEWAY_ADDRESS is required with VIGIL_TALQ_TENANT: the TALQ address of this gateway');
  if ((config.VIGIL_TALQ_TLS_CERT_FILE === undefined) !== (config.VIGIL_TALQ_TLS_KEY_FILE === undefined)) {
    throw new StartupError('VIGIL_TALQ_TLS_CERT_FILE and VIGIL_TALQ_TLS_KEY_FILE go together');
  }
  const cert = config.VIGIL_TALQ_TLS_CERT_FILE === undefined ? undefined : fileOf('VIGIL_TALQ_TLS_CERT_FILE', config.VIGIL_TALQ_TLS_CERT_FILE);
  const key = config.VIGIL_TALQ_TLS_KEY_FILE === undefined ? undefined : fileOf('VIGIL_TALQ_TLS_KEY_FILE', config.VIGIL_TALQ_TLS_KEY_FILE);
  const ca = config.VIGIL_TALQ_TLS_CA_FILE === undefined ? undefined : fileOf('VIGIL_TALQ_TLS_CA_FILE', config.VIGIL_TALQ_TLS_CA_FILE);
  const cmsUrl = config.VIGIL_TALQ_CMS_URL;
  const token = config.VIGIL_TALQ_CMS_TOKEN_FILE === undefined ? undefined : secretOf('VIGIL_TALQ_CMS_TOKEN_FILE', config.VIGIL_TALQ_CMS_TOKEN_FILE);
  const reports =
    cmsUrl === undefined
      ? undefined
      : {
          cms: { baseUrl: cmsUrl, ...(token === undefined ? {} : { token }), ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) },
          loggerAddress: config.VIGIL_TALQ_LOGGER_ADDRESS,
          intervalMs: config.VIGIL_TALQ_REPORT_INTERVAL_MS,
          maxEntries: config.VIGIL_TALQ_REPORT_MAX_ENTRIES,
        };
  let listener: TalqSettings['listener'];
  const port = config.VIGIL_TALQ_PORT;
  if (port !== undefined) {
    const cmsAddress = config.VIGIL_TALQ_CMS_ADDRESS;
    if (cmsAddress === undefined) throw new StartupError('VIGIL_TALQ_PORT needs VIGIL_TALQ_CMS_ADDRESS: requests are accepted from that CMS only');
    const secret = config.VIGIL_TALQ_SECRET_FILE === undefined ? undefined : secretOf('VIGIL_TALQ_SECRET_FILE', config.VIGIL_TALQ_SECRET_FILE);
    if (secret === undefined && ca === undefined) throw new StartupError('VIGIL_TALQ_PORT needs VIGIL_TALQ_SECRET_FILE or mutual TLS (VIGIL_TALQ_TLS_CA_FILE): the listener never takes anonymous commands');
    if (ca !== undefined && cert === undefined) throw new StartupError('VIGIL_TALQ_TLS_CA_FILE on the listener needs VIGIL_TALQ_TLS_CERT_FILE and VIGIL_TALQ_TLS_KEY_FILE (mutual TLS is TLS first)');
    if (secret !== undefined && secret.length < 16) throw new StartupError('VIGIL_TALQ_SECRET_FILE: the shared secret needs at least 16 characters');
    listener = {
      host: config.VIGIL_TALQ_HOST,
      port,
      cmsAddress,
      ...(secret === undefined ? {} : { secret }),
      ...(cert && key ? { tls: { cert, key, ...(ca ? { ca } : {}) } } : {}),
    };
  }
  return { tenant, gatewayAddress, ...(reports ? { reports } : {}), ...(listener ? { listener } : {}) };
}

function fileOf(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new StartupError(`${variable}: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function secretOf(variable: string, path: string): string {
  const value = fileOf(variable, path).toString('utf8').replace(/\r?\n$/, '');
  if (value.length === 0) throw new StartupError(`${variable}: ${path} is empty`);
  return value;
}
