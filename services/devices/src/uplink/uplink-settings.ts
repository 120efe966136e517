import { readFileSync } from 'node:fs';
import type { Config } from '@vigil/config';
import { StartupError } from '@vigil/runtime';
import type { Backoff } from '../backoff.ts';
import { compileTopicPatterns, UplinkTopicError, type UplinkTopicPattern } from './uplink-topics.ts';

export interface UplinkSettings {
  readonly url: string;
  readonly tenant: string;
  readonly clientId: string;
  readonly patterns: readonly UplinkTopicPattern[];
  readonly shareGroup?: string;
  readonly protocolVersion: 4 | 5;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly keepaliveSeconds: number;
  readonly sessionExpirySeconds: number;
  readonly reconnect: Backoff;
  readonly heartbeat?: { readonly topic: string; readonly everySeconds: number };
}

/**
 * The uplink's settings from the configuration, files read: undefined when VIGIL_UPLINK_URL is unset. What the
 * settings table cannot check alone (settings that go together, files that must exist) stops the start with a line
 * naming the variable.
 */
export function uplinkSettingsOf(config: Config): UplinkSettings | undefined {
  const url = config.VIGIL_UPLINK_URL;
  if (url === undefined) return undefined;
  const tenant = config.VIGIL_UPLINK_TENANT;
  if (tenant === undefined) throw new StartupError('VIGIL_UPLINK_TENANT is required with VIGIL_UPLINK_URL: the tenant the upstream devices belong to');
  if ((config.VIGIL_UPLINK_CERT_FILE === undefined) !== (config.VIGIL_UPLINK_KEY_FILE === undefined)) {
    throw new StartupError('VIGIL_UPLINK_CERT_FILE and VIGIL_UPLINK_KEY_FILE go together');
  }
  if (config.VIGIL_UPLINK_RECONNECT_MIN_MS > config.VIGIL_UPLINK_RECONNECT_MAX_MS) {
    throw new StartupError('VIGIL_UPLINK_RECONNECT_MIN_MS is larger than VIGIL_UPLINK_RECONNECT_MAX_MS');
  }
  let patterns: UplinkTopicPattern[];
  try {
    patterns = compileTopicPatterns(config.VIGIL_UPLINK_TOPICS, config.VIGIL_UPLINK_REGISTRY);
  } catch (err) {
    if (err instanceof UplinkTopicError) throw new StartupError(`VIGIL_UPLINK_TOPICS: ${err.message}`);
    throw err;
  }
  const password = config.VIGIL_UPLINK_PASSWORD_FILE === undefined ? undefined : fileOf('VIGIL_UPLINK_PASSWORD_FILE', config.VIGIL_UPLINK_PASSWORD_FILE).toString('utf8').replace(/\r?\n$/, '');
  const heartbeatTopic = config.VIGIL_UPLINK_HEARTBEAT_TOPIC;
  if (heartbeatTopic !== undefined && /[+#]/.test(heartbeatTopic)) throw new StartupError('VIGIL_UPLINK_HEARTBEAT_TOPIC: a topic to publish on may not hold + or #');
  return {
    url,
    tenant,
    clientId: config.VIGIL_UPLINK_CLIENT_ID,
    patterns,
    ...(config.VIGIL_UPLINK_SHARE_GROUP ? { shareGroup: config.VIGIL_UPLINK_SHARE_GROUP } : {}),
    protocolVersion: config.VIGIL_UPLINK_MQTT_VERSION === '5' ? 5 : 4,
    ...(config.VIGIL_UPLINK_USERNAME === undefined ? {} : { username: config.VIGIL_UPLINK_USERNAME }),
    ...(password === undefined ? {} : { password }),
    ...(config.VIGIL_UPLINK_CA_FILE === undefined ? {} : { ca: fileOf('VIGIL_UPLINK_CA_FILE', config.VIGIL_UPLINK_CA_FILE) }),
    ...(config.VIGIL_UPLINK_CERT_FILE === undefined ? {} : { cert: fileOf('VIGIL_UPLINK_CERT_FILE', config.VIGIL_UPLINK_CERT_FILE) }),
    ...(config.VIGIL_UPLINK_KEY_FILE === undefined ? {} : { key: fileOf('VIGIL_UPLINK_KEY_FILE', config.VIGIL_UPLINK_KEY_FILE) }),
    keepaliveSeconds: config.VIGIL_UPLINK_KEEPALIVE_SECONDS,
    sessionExpirySeconds: config.VIGIL_UPLINK_SESSION_EXPIRY_SECONDS,
    reconnect: { minMs: config.VIGIL_UPLINK_RECONNECT_MIN_MS, maxMs: config.VIGIL_UPLINK_RECONNECT_MAX_MS },
    ...(heartbeatTopic === undefined ? {} : { heartbeat: { topic: heartbeatTopic, everySeconds: config.VIGIL_UPLINK_HEARTBEAT_SECONDS } }),
  };
}

function fileOf(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new StartupError(`${variable}: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
