/** A parser turns the raw string of one variable into its value, or throws a message that says what is wanted. */
export type Parse<T> = (raw: string) => T;

export class SettingProblem extends Error {}

export const parseString: Parse<string> = (raw) => raw;

export function parseInteger(min: number, max: number): Parse<number> {
  return (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new SettingProblem(`must be a whole number from ${min} to ${max}`);
    const n = Number(raw);
    if (n < min || n > max) throw new SettingProblem(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export const parseBoolean: Parse<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new SettingProblem('must be true or false');
};

export function parseOneOf<const T extends string>(values: readonly T[]): Parse<T> {
  return (raw) => {
    const found = values.find((v) => v === raw.trim());
    if (found === undefined) throw new SettingProblem(`must be one of ${values.join(', ')}`);
    return found;
  };
}

export function parseUrl(protocols: readonly string[]): Parse<string> {
  return (raw) => {
    let url: URL;
    try {
      url = new URL(raw.trim());
    } catch {
      throw new SettingProblem(`must be a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
    }
    if (!protocols.includes(url.protocol)) throw new SettingProblem(`must use ${protocols.join(' or ')}`);
    return raw.trim();
  };
}

/** A comma-separated list; each item checked by `item`. */
export function parseList<T>(item: Parse<T>): Parse<T[]> {
  return (raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map(item);
}

/** NATS server URLs, comma separated (a cluster). */
export const parseNatsServers = parseList(parseUrl(['nats:', 'tls:', 'ws:', 'wss:']));

/** A name that is safe inside a NATS subject token and a stream name. */
export const parseToken: Parse<string> = (raw) => {
  if (!/^[A-Za-z0-9_-]*$/.test(raw)) throw new SettingProblem('may hold only letters, digits, _ and -');
  return raw;
};

/**
 * A plain lowercase SQL identifier (a schema name): letters, digits and _, starting with a letter or _, at most 63
 * bytes (PostgreSQL's limit), not `pg_` (reserved for the system). Never needs quoting, so it reads the same in SQL,
 * in a connection's search_path and in a consumer name.
 */
export const parseSqlIdentifier: Parse<string> = (raw) => {
  const v = raw.trim();
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(v) || v.startsWith('pg_')) {
    throw new SettingProblem('must be a lowercase SQL identifier: a-z, 0-9 and _, starting with a letter or _, at most 63 characters, not pg_…');
  }
  return v;
};

/** A tenant id as every event envelope spells it (a subject token too). */
export const parseTenantId: Parse<string> = (raw) => {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(raw.trim())) throw new SettingProblem('must be a tenant id: lowercase letters, digits, _ and -, starting with a letter or digit');
  return raw.trim();
};

/** A UUID (any version), lowercased. */
export const parseUuid: Parse<string> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v)) throw new SettingProblem('must be a UUID');
  return v;
};
