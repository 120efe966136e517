import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseEnv } from 'node:util';
import {
  parseBoolean,
  parseInteger,
  parseList,
  parseNatsServers,
  parseOneOf,
  parseSqlIdentifier,
  parseString,
  parseToken,
  parseTenantId,
  parseUrl,
  parseUuid,
  SettingProblem,
  type Parse,
} from './settings.ts';

interface SettingText<T> {
  readonly description: string;
  /** Shown in .env.example; undefined means "unset". */
  readonly example?: string;
  readonly parse: Parse<T>;
}

interface Setting<T, HasFallback extends boolean> extends SettingText<T> {
  readonly hasFallback: HasFallback;
  /** Used when the variable is unset. */
  readonly fallback: () => T | undefined;
}

/** A variable that may stay unset: its value is then undefined. */
function optional<T>(s: SettingText<T>): Setting<T, false> {
  return { ...s, hasFallback: false, fallback: () => undefined };
}

/** A variable with a value to use when unset. */
function withDefault<T>(s: SettingText<T> & { fallback: () => T }): Setting<T, true> {
  return { ...s, hasFallback: true };
}

/**
 * Every environment variable Vigil reads, in one table. `.env.example` documents exactly these
 * (a test keeps the two equal).
 */
export const settings = {
  NATS_URL: optional({
    description: 'NATS server URL(s), comma separated. Unset: `pnpm start` runs a local nats-server -js in a temporary directory.',
    example: 'nats://127.0.0.1:4222',
    parse: parseNatsServers,
  }),
  NATS_TLS_CA_FILE: optional({
    description: 'PEM CA certificate that signs the NATS servers\' certificates; set it to connect with TLS.',
    example: '/etc/vigil/nats/ca.crt',
    parse: parseString,
  }),
  NATS_TLS_CERT_FILE: optional({
    description: 'PEM client certificate for NATS servers that require mutual TLS (with NATS_TLS_KEY_FILE).',
    example: '/etc/vigil/nats/client.crt',
    parse: parseString,
  }),
  NATS_TLS_KEY_FILE: optional({
    description: 'PEM private key of NATS_TLS_CERT_FILE.',
    example: '/etc/vigil/nats/client.key',
    parse: parseString,
  }),
  NATS_USER: optional({
    description: 'NATS user name, for servers with user/password authorization (with NATS_PASSWORD_FILE).',
    example: 'vigil',
    parse: parseString,
  }),
  NATS_PASSWORD_FILE: optional({
    description: 'File holding the NATS password of NATS_USER (a file, so the password is in no environment listing).',
    example: '/run/secrets/nats-password',
    parse: parseString,
  }),
  NATS_STREAM_REPLICAS: withDefault({
    description: 'Replicas of each JetStream stream: 1 on one server, 3 on a cluster.',
    example: '1',
    parse: parseInteger(1, 5),
    fallback: () => 1,
  }),
  DATABASE_URL: optional({
    description: 'PostgreSQL URL for the read models. Unset: the embedded PGlite database under VIGIL_DATA_DIR.',
    example: 'postgres://postgres@127.0.0.1:5432/vigil',
    parse: parseUrl(['postgres:', 'postgresql:']),
  }),
  VIGIL_READ_MODEL_SCHEMA: withDefault({
    description: 'PostgreSQL schema (also on PGlite) that holds the read models: a release whose read models changed runs with a new one beside the old release, rebuilt from the streams; rolling back is starting the old release again (README: Read-model migrations and rollback).',
    example: 'public',
    parse: parseSqlIdentifier,
    fallback: () => 'public',
  }),
  VIGIL_DATA_DIR: withDefault({
    description: 'Where the embedded database (PGlite) keeps its files.',
    example: '.vigil',
    parse: parseString,
    fallback: () => '.vigil',
  }),
  VIGIL_NAMESPACE: withDefault({
    description: 'Prefix of every stream name and subject, so several Vigils (or test runs) can share one NATS.',
    example: '',
    parse: parseToken,
    fallback: () => '',
  }),
  VIGIL_INSTANCE: withDefault({
    description: 'Name of this process in logs, health and consumer names.',
    parse: parseToken,
    fallback: () => `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`,
  }),
  VIGIL_HTTP_HOST: withDefault({
    description: 'Address the edge listens on.',
    example: '127.0.0.1',
    parse: parseString,
    fallback: () => '127.0.0.1',
  }),
  VIGIL_HTTP_PORT: withDefault({
    description: 'Port of the edge HTTP API (0 picks a free port).',
    example: '8080',
    parse: parseInteger(0, 65535),
    fallback: () => 8080,
  }),
  VIGIL_HTTP_BODY_LIMIT: withDefault({
    description: 'Largest request body the edge accepts, in bytes; larger bodies get 413.',
    example: '1048576',
    parse: parseInteger(1024, 64 * 1024 * 1024),
    fallback: () => 1024 * 1024,
  }),
  VIGIL_CORS_ORIGINS: withDefault({
    description: 'Origins allowed by CORS, comma separated; empty allows none.',
    example: 'https://console.example.org',
    parse: parseList(parseUrl(['https:', 'http:'])),
    fallback: (): string[] => [],
  }),
  VIGIL_TRUST_PROXY: withDefault({
    description: 'Trust X-Forwarded-* headers from a reverse proxy in front of the edge.',
    example: 'false',
    parse: parseBoolean,
    fallback: () => false,
  }),
  VIGIL_READY_WORKERS: withDefault({
    description: 'Worker services that must answer before the edge reports ready, comma separated.',
    example: '',
    parse: parseList(parseToken),
    fallback: (): string[] => [],
  }),
  VIGIL_REQUEST_TIMEOUT_MS: withDefault({
    description: 'How long the edge waits for a worker to answer a command or query, in milliseconds.',
    example: '5000',
    parse: parseInteger(100, 120_000),
    fallback: () => 5000,
  }),
  VIGIL_KME_KEK_FILE: optional({
    description: 'JSON file of the KME key-encryption keys ({"current": id, "keys": {id: base64}}). Unset: VIGIL_DATA_DIR/kme-kek.json, created by `pnpm start` when missing.',
    example: '/run/secrets/vigil-kek.json',
    parse: parseString,
  }),
  VIGIL_KME_TOPOLOGY_FILE: optional({
    description: 'JSON file of KMEs, SAEs and QKD links applied at start (registered or updated as events).',
    example: 'deploy/kme/topology.example.json',
    parse: parseString,
  }),
  VIGIL_KME_KEY_TTL_SECONDS: withDefault({
    description: 'Seconds a delivered key waits for its slave SAE(s) before it expires and its material is erased.',
    example: '3600',
    parse: parseInteger(1, 30 * 24 * 3600),
    fallback: () => 3600,
  }),
  VIGIL_ETSI_HOST: withDefault({
    description: 'Address of the ETSI GS QKD 014 HTTPS listener (mutual TLS).',
    example: '127.0.0.1',
    parse: parseString,
    fallback: () => '127.0.0.1',
  }),
  VIGIL_ETSI_PORT: withDefault({
    description: 'Port of the ETSI GS QKD 014 HTTPS listener (0 picks a free port).',
    example: '8443',
    parse: parseInteger(0, 65535),
    fallback: () => 8443,
  }),
  VIGIL_TLS_CERT_FILE: optional({
    description: 'PEM server certificate (chain) of the ETSI listener. Unset with `pnpm start`: a development PKI under VIGIL_DATA_DIR/pki.',
    example: '/etc/vigil/tls/server.crt',
    parse: parseString,
  }),
  VIGIL_TLS_KEY_FILE: optional({
    description: 'PEM private key of the ETSI listener certificate.',
    example: '/etc/vigil/tls/server.key',
    parse: parseString,
  }),
  VIGIL_TLS_CA_FILE: optional({
    description: 'PEM CA certificate(s) that sign SAE client certificates.',
    example: '/etc/vigil/tls/sae-ca.crt',
    parse: parseString,
  }),
  VIGIL_TLS_CRL_FILE: optional({
    description: 'PEM certificate revocation list(s) of the SAE CA; revoked SAE certificates are refused.',
    example: '/etc/vigil/tls/sae-ca.crl',
    parse: parseString,
  }),
  VIGIL_SAE_ID_FROM: withDefault({
    description: 'Where an SAE certificate carries the SAE_ID: the subject CN, a URI SAN or a DNS SAN.',
    example: 'cn',
    parse: parseOneOf(['cn', 'uri-san', 'dns-san']),
    fallback: (): 'cn' | 'uri-san' | 'dns-san' => 'cn',
  }),
  VIGIL_IDENTITY_KEK_FILE: optional({
    description: 'JSON file of the identity key-encryption keys that seal TOTP secrets and e-mail addresses (same format as VIGIL_KME_KEK_FILE). Unset: VIGIL_DATA_DIR/identity-kek.json, created when missing (one machine only).',
    example: '/run/secrets/vigil-identity-kek.json',
    parse: parseString,
  }),
  VIGIL_IDENTITY_SIGNING_KEYS_FILE: optional({
    description: 'JSON file of the Ed25519 keys that sign access tokens ({"current": kid, "keys": [JWK, ...]}); keep a retired key listed until its tokens expire. Unset: VIGIL_DATA_DIR/identity-signing-keys.json, created when missing (one machine only).',
    example: '/run/secrets/vigil-signing-keys.json',
    parse: parseString,
  }),
  VIGIL_JWT_ISSUER: withDefault({
    description: 'The `iss` of access tokens, checked by every edge.',
    example: 'vigil',
    parse: parseString,
    fallback: () => 'vigil',
  }),
  VIGIL_JWT_AUDIENCE: withDefault({
    description: 'The `aud` of access tokens, checked by every edge.',
    example: 'vigil-api',
    parse: parseString,
    fallback: () => 'vigil-api',
  }),
  VIGIL_ACCESS_TOKEN_SECONDS: withDefault({
    description: 'Lifetime of an access token (JWT), in seconds.',
    example: '300',
    parse: parseInteger(30, 3600),
    fallback: () => 300,
  }),
  VIGIL_SESSION_MAX_SECONDS: withDefault({
    description: 'Absolute lifetime of a session and its refresh tokens, in seconds, however often it is refreshed.',
    example: '43200',
    parse: parseInteger(300, 90 * 24 * 3600),
    fallback: () => 43_200,
  }),
  VIGIL_SESSION_IDLE_SECONDS: withDefault({
    description: 'A session not refreshed for this many seconds ends (idle timeout).',
    example: '3600',
    parse: parseInteger(60, 7 * 24 * 3600),
    fallback: () => 3600,
  }),
  VIGIL_MAX_SESSIONS_PER_USER: withDefault({
    description: 'Concurrent sessions a user may have; a new login ends the oldest.',
    example: '5',
    parse: parseInteger(1, 100),
    fallback: () => 5,
  }),
  VIGIL_PASSWORD_MIN_LENGTH: withDefault({
    description: 'Fewest characters in a password (ASVS: at least 12). Up to 128 are always allowed; no composition rules.',
    example: '12',
    parse: parseInteger(8, 64),
    fallback: () => 12,
  }),
  VIGIL_LOCKOUT_THRESHOLD: withDefault({
    description: 'Consecutive failed password (or TOTP) attempts that lock an account.',
    example: '5',
    parse: parseInteger(1, 100),
    fallback: () => 5,
  }),
  VIGIL_LOCKOUT_SECONDS: withDefault({
    description: 'How long a locked account stays locked, in seconds.',
    example: '900',
    parse: parseInteger(1, 7 * 24 * 3600),
    fallback: () => 900,
  }),
  VIGIL_TENANT_MAX_USERS: withDefault({
    description: 'User quota of a new tenant when its creation names none.',
    example: '1000',
    parse: parseInteger(1, 10_000_000),
    fallback: () => 1000,
  }),
  VIGIL_TENANT_MAX_API_KEYS: withDefault({
    description: 'API key quota of a tenant (keys alive at once: not revoked, not expired) when its creation names none.',
    example: '100',
    parse: parseInteger(0, 1_000_000),
    fallback: () => 100,
  }),
  VIGIL_TENANT_MAX_DEVICES: withDefault({
    description: 'Device quota of a new tenant (devices registered and not decommissioned) when its creation names none.',
    example: '10000',
    parse: parseInteger(0, 10_000_000),
    fallback: () => 10_000,
  }),
  VIGIL_TENANT_DEFAULT_PLAN: withDefault({
    description: 'Plan of a new tenant when its creation names none, and of tenants made before plans: essentials (identity only), standard (+ API keys, devices), enterprise (+ audit API, custom roles).',
    example: 'enterprise',
    parse: parseOneOf(['essentials', 'standard', 'enterprise']),
    fallback: () => 'enterprise' as const,
  }),
  VIGIL_USER_RATE_LIMIT: withDefault({
    description: 'Requests per minute one signed-in user may make to the API at each edge (all their sessions together); beyond it 429 with Retry-After. API keys have their own limit.',
    example: '1200',
    parse: parseInteger(1, 1_000_000),
    fallback: () => 1200,
  }),
  VIGIL_AUTH_RATE_LIMIT: withDefault({
    description: 'Requests per minute one client address may make to each /auth route (login, refresh, MFA); beyond it 429 with Retry-After.',
    example: '30',
    parse: parseInteger(1, 1_000_000),
    fallback: () => 30,
  }),
  VIGIL_BOOTSTRAP_ADMIN: optional({
    description: 'Username of the first platform administrator, created at identity start in tenant `platform` when it does not exist yet (with VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE).',
    example: 'admin',
    parse: parseString,
  }),
  VIGIL_BOOTSTRAP_ADMIN_EMAIL: optional({
    description: 'E-mail address of the bootstrap platform administrator.',
    example: 'admin@example.org',
    parse: parseString,
  }),
  VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE: optional({
    description: 'File holding the bootstrap administrator password (a file, so it never sits in the environment or a process listing).',
    example: '/run/secrets/vigil-admin-password',
    parse: parseString,
  }),
  VIGIL_TELEMETRY_RETENTION_DAYS: withDefault({
    description: 'Whole days of device readings kept in the read model before today (UTC); older daily partitions (or TimescaleDB chunks) are dropped. A rebuild can only bring back what DEVICE_TELEMETRY still holds (30 days).',
    example: '30',
    parse: parseInteger(1, 3650),
    fallback: () => 30,
  }),
  VIGIL_UPLINK_URL: optional({
    description: 'Upstream MQTT broker (Fundamentum-style) the uplink subscribes to, mqtts:// in production. Unset: no uplink.',
    example: 'mqtts://mqtt.example.org:8883',
    parse: parseUrl(['mqtt:', 'mqtts:', 'ws:', 'wss:']),
  }),
  VIGIL_UPLINK_TENANT: optional({
    description: 'Vigil tenant the upstream registry maps to: its devices are looked up by serial number in this tenant (required with VIGIL_UPLINK_URL).',
    example: 'acme',
    parse: parseTenantId,
  }),
  VIGIL_UPLINK_REGISTRY: optional({
    description: 'Upstream registry id, put in place of {registry} in VIGIL_UPLINK_TOPICS.',
    example: '42',
    parse: parseString,
  }),
  VIGIL_UPLINK_TOPICS: withDefault({
    description: 'Upstream topic patterns, comma separated; {serial} marks the level holding the device serial number, {registry} is VIGIL_UPLINK_REGISTRY, + and # are MQTT wildcards. A pattern whose level after {serial} is `heartbeat` carries heartbeats ({"uptime": s}); every other one telemetry.',
    example: 'registries/{registry}/devices/{serial}/events/#,registries/{registry}/devices/{serial}/states/#,registries/{registry}/devices/{serial}/heartbeat',
    parse: parseList(parseString),
    fallback: (): string[] => [
      'registries/{registry}/devices/{serial}/events/#',
      'registries/{registry}/devices/{serial}/states/#',
      'registries/{registry}/devices/{serial}/heartbeat',
    ],
  }),
  VIGIL_UPLINK_CLIENT_ID: withDefault({
    description: 'MQTT client id of the uplink. Its persistent session upstream is keyed by it: keep it stable, and unique per replica (see VIGIL_UPLINK_SHARE_GROUP).',
    example: 'vigil-uplink',
    parse: parseString,
    fallback: () => 'vigil-uplink',
  }),
  VIGIL_UPLINK_SHARE_GROUP: optional({
    description: 'Subscribe as an MQTT v5 shared subscription ($share/<group>/...) so that several replicas, each with its own client id, split the messages.',
    example: 'vigil',
    parse: parseToken,
  }),
  VIGIL_UPLINK_MQTT_VERSION: withDefault({
    description: 'MQTT protocol version spoken upstream: 5 (Fundamentum bridges require it) or 3.1.1.',
    example: '5',
    parse: parseOneOf(['5', '3.1.1']),
    fallback: (): '5' | '3.1.1' => '5',
  }),
  VIGIL_UPLINK_USERNAME: optional({
    description: 'Username of the uplink upstream, with VIGIL_UPLINK_PASSWORD_FILE.',
    example: 'vigil',
    parse: parseString,
  }),
  VIGIL_UPLINK_PASSWORD_FILE: optional({
    description: 'File holding the uplink password (a trailing newline is ignored).',
    example: '/run/secrets/vigil-uplink-password',
    parse: parseString,
  }),
  VIGIL_UPLINK_CA_FILE: optional({
    description: 'PEM CA certificate(s) the upstream broker certificate must chain to. Unset: the system CAs.',
    example: '/etc/vigil/uplink/ca.crt',
    parse: parseString,
  }),
  VIGIL_UPLINK_CERT_FILE: optional({
    description: 'PEM client certificate of the uplink (mutual TLS), with VIGIL_UPLINK_KEY_FILE.',
    example: '/etc/vigil/uplink/client.crt',
    parse: parseString,
  }),
  VIGIL_UPLINK_KEY_FILE: optional({
    description: 'PEM private key of VIGIL_UPLINK_CERT_FILE.',
    example: '/etc/vigil/uplink/client.key',
    parse: parseString,
  }),
  VIGIL_UPLINK_KEEPALIVE_SECONDS: withDefault({
    description: 'MQTT keepalive of the uplink connection, in seconds: a silent connection is dropped and reconnected after 1.5 times this.',
    example: '30',
    parse: parseInteger(5, 3600),
    fallback: () => 30,
  }),
  VIGIL_UPLINK_SESSION_EXPIRY_SECONDS: withDefault({
    description: 'How long the upstream broker keeps the uplink session (subscriptions and queued QoS 1 messages) while it is disconnected, in seconds.',
    example: '86400',
    parse: parseInteger(0, 4_294_967_295),
    fallback: () => 86_400,
  }),
  VIGIL_UPLINK_RECONNECT_MIN_MS: withDefault({
    description: 'First reconnect delay of the uplink, in milliseconds; each failed attempt doubles it (with jitter) up to VIGIL_UPLINK_RECONNECT_MAX_MS.',
    example: '500',
    parse: parseInteger(10, 600_000),
    fallback: () => 500,
  }),
  VIGIL_UPLINK_RECONNECT_MAX_MS: withDefault({
    description: 'Longest reconnect delay of the uplink, in milliseconds.',
    example: '60000',
    parse: parseInteger(10, 3_600_000),
    fallback: () => 60_000,
  }),
  VIGIL_UPLINK_HEARTBEAT_TOPIC: optional({
    description: 'Topic the uplink publishes its own heartbeat ({"uptime": s}, QoS 0) on upstream. Unset: none.',
    example: 'registries/42/devices/vigil/heartbeat',
    parse: parseString,
  }),
  VIGIL_UPLINK_HEARTBEAT_SECONDS: withDefault({
    description: 'Seconds between two heartbeats of the uplink.',
    example: '60',
    parse: parseInteger(1, 86_400),
    fallback: () => 60,
  }),
  VIGIL_TALQ_TENANT: optional({
    description: 'Vigil tenant whose devices the TALQ gateway serves (devices registered with a TALQ address and class). Unset: no TALQ gateway.',
    example: 'acme',
    parse: parseTenantId,
  }),
  VIGIL_TALQ_GATEWAY_ADDRESS: optional({
    description: 'TALQ address (UUID) of the gateway: the clientAddress of its requests to the CMS (required with VIGIL_TALQ_TENANT).',
    example: '0b8e6a64-6d3c-4c64-9a4f-0d2f3c1b7a10',
    parse: parseUuid,
  }),
  VIGIL_TALQ_CMS_ADDRESS: optional({
    description: 'TALQ address (UUID) of the CMS: requests from the CMS must carry it as clientAddress (required with VIGIL_TALQ_PORT).',
    example: '5f0e2c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
    parse: parseUuid,
  }),
  VIGIL_TALQ_CMS_URL: optional({
    description: 'Base URI of the CMS TALQ API; log reports are POSTed to <url>/log-reports. Unset: no log reports.',
    example: 'https://cms.example.org/talq/v2',
    parse: parseUrl(['http:', 'https:']),
  }),
  VIGIL_TALQ_CMS_TOKEN_FILE: optional({
    description: 'File holding a bearer token sent to the CMS with each request. Unset: none (mutual TLS only).',
    example: '/run/secrets/vigil-talq-cms-token',
    parse: parseString,
  }),
  VIGIL_TALQ_LOGGER_ADDRESS: withDefault({
    description: 'TALQ address of the logger (LoggerConfig) that log reports name.',
    example: 'vigil-telemetry',
    parse: parseString,
    fallback: () => 'vigil-telemetry',
  }),
  VIGIL_TALQ_REPORT_INTERVAL_MS: withDefault({
    description: 'Delay between the first reading waiting to be reported and its log report (TALQ immediate reporting with a delay), in milliseconds.',
    example: '10000',
    parse: parseInteger(10, 86_400_000),
    fallback: () => 10_000,
  }),
  VIGIL_TALQ_REPORT_MAX_ENTRIES: withDefault({
    description: 'Most readings (of devices) in one log report; more wait for the next one.',
    example: '500',
    parse: parseInteger(1, 10_000),
    fallback: () => 500,
  }),
  VIGIL_TALQ_HOST: withDefault({
    description: 'Address of the TALQ gateway listener the CMS sends override commands to.',
    example: '127.0.0.1',
    parse: parseString,
    fallback: () => '127.0.0.1',
  }),
  VIGIL_TALQ_PORT: optional({
    description: 'Port of the TALQ gateway listener (0 picks a free port). Unset: no listener.',
    example: '8470',
    parse: parseInteger(0, 65535),
  }),
  VIGIL_TALQ_SECRET_FILE: optional({
    description: 'File holding the shared secret the CMS presents as `Authorization: Bearer <secret>` to the TALQ listener; needed unless VIGIL_TALQ_TLS_CA_FILE makes it mutual TLS.',
    example: '/run/secrets/vigil-talq-secret',
    parse: parseString,
  }),
  VIGIL_TALQ_TLS_CERT_FILE: optional({
    description: 'PEM certificate of the TALQ gateway: the listener serves HTTPS with it, and it is the client certificate of requests to the CMS.',
    example: '/etc/vigil/talq/gateway.crt',
    parse: parseString,
  }),
  VIGIL_TALQ_TLS_KEY_FILE: optional({
    description: 'PEM private key of VIGIL_TALQ_TLS_CERT_FILE.',
    example: '/etc/vigil/talq/gateway.key',
    parse: parseString,
  }),
  VIGIL_TALQ_TLS_CA_FILE: optional({
    description: 'PEM CA certificate(s) of the CMS: its client certificate is then required by the listener (mutual TLS), and its server certificate checked against them.',
    example: '/etc/vigil/talq/cms-ca.crt',
    parse: parseString,
  }),
  VIGIL_MQTT_HOST: withDefault({
    description: 'Address the device MQTT broker listens on (every listener: TCP, TLS, WebSocket).',
    example: '127.0.0.1',
    parse: parseString,
    fallback: () => '127.0.0.1',
  }),
  VIGIL_MQTT_PORT: withDefault({
    description: 'Port of the plain MQTT (TCP) listener devices connect to; 0 turns it off (TLS only). Not 1883, which a system broker often holds.',
    example: '1884',
    parse: parseInteger(0, 65535),
    fallback: () => 1884,
  }),
  VIGIL_MQTT_TLS_PORT: withDefault({
    description: 'Port of the MQTT over TLS listener, e.g. 8883 (needs VIGIL_MQTT_TLS_CERT_FILE and VIGIL_MQTT_TLS_KEY_FILE); 0 turns it off.',
    example: '0',
    parse: parseInteger(0, 65535),
    fallback: () => 0,
  }),
  VIGIL_MQTT_WS_PORT: withDefault({
    description: 'Port of the MQTT over WebSocket listener, e.g. 8083 (path /mqtt, plain HTTP: put TLS in front); 0 turns it off.',
    example: '0',
    parse: parseInteger(0, 65535),
    fallback: () => 0,
  }),
  VIGIL_MQTT_TLS_CERT_FILE: optional({
    description: 'PEM server certificate (chain) of the MQTT TLS listener.',
    example: '/etc/vigil/mqtt/server.crt',
    parse: parseString,
  }),
  VIGIL_MQTT_TLS_KEY_FILE: optional({
    description: 'PEM private key of VIGIL_MQTT_TLS_CERT_FILE.',
    example: '/etc/vigil/mqtt/server.key',
    parse: parseString,
  }),
  VIGIL_MQTT_DEVICE_CA_FILE: optional({
    description: 'PEM CA certificate(s) that sign device client certificates. Set: the TLS listener asks for a client certificate, and one that chains to this CA and is registered as a device credential logs the device in without a password.',
    example: '/etc/vigil/mqtt/device-ca.crt',
    parse: parseString,
  }),
  VIGIL_DEVICE_HEARTBEAT_SECONDS: withDefault({
    description: 'Heartbeat interval expected of devices, in seconds: a device that publishes nothing for 3 intervals is marked offline and disconnected.',
    example: '60',
    parse: parseInteger(1, 86_400),
    fallback: () => 60,
  }),
  VIGIL_DEVICE_MAX_MESSAGES_PER_SECOND: withDefault({
    description: 'Messages per second one device may publish (a burst of one second is allowed); faster publishes are slowed down, and refused when more than a second behind. 0: no limit.',
    example: '50',
    parse: parseInteger(0, 1_000_000),
    fallback: () => 50,
  }),
  VIGIL_DEVICE_MAX_PAYLOAD_BYTES: withDefault({
    description: 'Largest MQTT payload a device may publish, in bytes; a larger one is refused.',
    example: '8192',
    parse: parseInteger(64, 1_048_576),
    fallback: () => 8192,
  }),
  LOG_LEVEL: withDefault({
    description: 'Least severe log level written.',
    example: 'info',
    parse: parseOneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    fallback: (): 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' => 'info',
  }),
} as const;

type Settings = typeof settings;
type ValueOf<S> = S extends Setting<infer T, infer HasFallback> ? (HasFallback extends true ? T : T | undefined) : never;
export type Config = { readonly [K in keyof Settings]: ValueOf<Settings[K]> };
export type VariableName = keyof Settings;

export class ConfigError extends Error {
  readonly problems: readonly { variable: string; message: string }[];
  constructor(problems: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads `.env` from `dir` when present; variables already in the environment win. */
export function readEnvFile(dir = process.cwd()): Record<string, string> {
  const path = `${dir}/.env`;
  if (!existsSync(path)) return {};
  const parsed = parseEnv(readFileSync(path, 'utf8'));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
  return out;
}

/**
 * Validates every variable at once and throws one ConfigError naming each bad one, so a start fails with the
 * whole list rather than the first problem.
 */
export function loadConfig(env: Record<string, string | undefined> = { ...readEnvFile(), ...process.env }): Config {
  const problems: { variable: string; message: string }[] = [];
  const values = new Map<string, unknown>();
  for (const [name, s] of Object.entries(settings)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      values.set(name, s.fallback());
      continue;
    }
    try {
      values.set(name, s.parse(raw));
    } catch (err) {
      if (!(err instanceof SettingProblem)) throw err;
      problems.push({ variable: name, message: `${err.message} (got ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)})` });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // Each value came from its own setting's parse or fallback, so the table's types hold; TypeScript cannot follow
  // a mapped type through Object.entries, and this is the one place that needs to say so.
  // eslint-disable-next-line @typescript-eslint/consistent-type-assertions
  return Object.fromEntries(values) as Config;
}
