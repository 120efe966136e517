import { readFileSync } from 'node:fs';
import type { Config } from '@vigil/config';
import { StartupError } from '@vigil/runtime';
import type { ListenerOptions } from './listeners.ts';

type BrokerSettings = Pick<
  Config,
  | 'VIGIL_MQTT_HOST'
  | 'VIGIL_MQTT_PORT'
  | 'VIGIL_MQTT_TLS_PORT'
  | 'VIGIL_MQTT_WS_PORT'
  | 'VIGIL_MQTT_TLS_CERT_FILE'
  | 'VIGIL_MQTT_TLS_KEY_FILE'
  | 'VIGIL_MQTT_DEVICE_CA_FILE'
>;

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new StartupError(`${variable}: cannot read ${path} (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** The broker's listeners as the settings give them (a port of 0 is off); a TLS port without its files stops the start. */
export function listenerOptions(config: BrokerSettings): ListenerOptions {
  const tlsPort = config.VIGIL_MQTT_TLS_PORT;
  let tls: ListenerOptions['tls'];
  if (tlsPort !== 0) {
    const certFile = config.VIGIL_MQTT_TLS_CERT_FILE;
    const keyFile = config.VIGIL_MQTT_TLS_KEY_FILE;
    if (!certFile || !keyFile) throw new StartupError('VIGIL_MQTT_TLS_PORT needs VIGIL_MQTT_TLS_CERT_FILE and VIGIL_MQTT_TLS_KEY_FILE');
    const caFile = config.VIGIL_MQTT_DEVICE_CA_FILE;
    tls = {
      port: tlsPort,
      certificatePem: readPem('VIGIL_MQTT_TLS_CERT_FILE', certFile),
      privateKeyPem: readPem('VIGIL_MQTT_TLS_KEY_FILE', keyFile),
      ...(caFile ? { deviceCaPem: readPem('VIGIL_MQTT_DEVICE_CA_FILE', caFile) } : {}),
    };
  }
  return {
    host: config.VIGIL_MQTT_HOST,
    ...(config.VIGIL_MQTT_PORT !== 0 ? { tcpPort: config.VIGIL_MQTT_PORT } : {}),
    ...(tls ? { tls } : {}),
    ...(config.VIGIL_MQTT_WS_PORT !== 0 ? { wsPort: config.VIGIL_MQTT_WS_PORT } : {}),
  };
}
