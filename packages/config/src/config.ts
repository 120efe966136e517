import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseEnv } from 'node:util';
import {
  parseBoolean,
  parseInteger,
  parseList,
  parseNatsServers,
  parseOneOf,
  parseString,
  parseToken,
  parseUrl,
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
