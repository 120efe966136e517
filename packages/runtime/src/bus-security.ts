import { readFileSync } from 'node:fs';
import type { BusSecurity } from '@vigil/bus';
import type { Config } from '@vigil/config';

/** The NATS TLS and credentials a deployment configured (`NATS_TLS_*`, `NATS_USER`, `NATS_PASSWORD_FILE`). */
export function busSecurityOf(config: Config): BusSecurity {
  const tls = {
    ...(config.NATS_TLS_CA_FILE ? { caFile: config.NATS_TLS_CA_FILE } : {}),
    ...(config.NATS_TLS_CERT_FILE ? { certFile: config.NATS_TLS_CERT_FILE } : {}),
    ...(config.NATS_TLS_KEY_FILE ? { keyFile: config.NATS_TLS_KEY_FILE } : {}),
  };
  if (Boolean(config.NATS_TLS_CERT_FILE) !== Boolean(config.NATS_TLS_KEY_FILE)) {
    throw new Error('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together: set both or neither');
  }
  if (config.NATS_PASSWORD_FILE && !config.NATS_USER) throw new Error('NATS_PASSWORD_FILE needs NATS_USER');
  const password = config.NATS_PASSWORD_FILE ? readFileSync(config.NATS_PASSWORD_FILE, 'utf8').replace(/\r?\n$/, '') : undefined;
  return {
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
    ...(config.NATS_USER ? { user: config.NATS_USER, ...(password === undefined ? {} : { password }) } : {}),
  };
}
