import { pino, type Logger, type LoggerOptions } from 'pino';
import { currentContext } from './context.ts';

export type { Logger } from 'pino';

/** The security-event categories a log line may carry in `category` (same names as on the AUDIT stream). */
export type SecurityCategory =
  | 'authentication'
  | 'authorization'
  | 'key_access'
  | 'certificate_validation'
  | 'device_access'
  | 'administration'
  | 'system';

const secretKeys = [
  'password',
  'newPassword',
  'new_password',
  'current_password',
  'passphrase',
  'secret',
  'client_secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'apiKey',
  'key',
  'keys',
  'key_material',
  'totp',
  'totp_code',
  'mfa_code',
  'otp',
  'recovery_codes',
  'email',
  'e_mail',
  'authorization',
  'cookie',
  'private_key',
];

/**
 * Paths pino censors, set once here. pino's redaction is path-based (fast, no scan of every string), so secrets
 * are caught by the names they travel under, at the top level and up to two objects deep.
 */
export const redactPaths: readonly string[] = [
  ...secretKeys,
  ...secretKeys.map((k) => `*.${k}`),
  ...secretKeys.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

export interface LoggerSettings {
  readonly service: string;
  readonly instance?: string;
  readonly level?: LoggerOptions['level'];
  /** Where lines go; standard output by default. Tests pass a stream to read what was written. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { service: settings.service, ...(settings.instance ? { instance: settings.instance } : {}) },
    redact: { paths: [...redactPaths], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // The correlation id of the work in progress, on every line without passing it around.
    mixin: () => {
      const ctx = currentContext();
      if (!ctx) return {};
      return ctx.requestId ? { correlation_id: ctx.correlationId, request_id: ctx.requestId } : { correlation_id: ctx.correlationId };
    },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** A child logger whose lines carry a security-event category. */
export function securityLogger(logger: Logger, category: SecurityCategory): Logger {
  return logger.child({ category });
}
