/**
 * The upstream topic scheme, read from configured patterns such as Fundamentum's
 * `registries/{registry}/devices/{serial}/events/#`: `{serial}` marks the level that holds the device serial number,
 * `{registry}` is replaced by the configured registry id, `+` and `#` are MQTT wildcards. A pattern whose level after
 * `{serial}` is `heartbeat` carries heartbeats; every other pattern carries telemetry (Fundamentum's `events` and
 * `states`, with or without a subtype).
 */
export type UplinkChannel = 'telemetry' | 'heartbeat';

export interface UplinkTopicPattern {
  /** As configured. */
  readonly pattern: string;
  /** What is subscribed to: the pattern with `{serial}` as `+`. */
  readonly filter: string;
  readonly channel: UplinkChannel;
  readonly levels: readonly string[];
}

export interface UplinkTopic {
  readonly serial: string;
  readonly channel: UplinkChannel;
}

export class UplinkTopicError extends Error {
  override readonly name = 'UplinkTopicError';
}

const serialLevel = '{serial}';

export function compileTopicPatterns(patterns: readonly string[], registry: string | undefined): UplinkTopicPattern[] {
  if (patterns.length === 0) throw new UplinkTopicError('no topic pattern');
  if (registry !== undefined && /[/+#]/.test(registry)) throw new UplinkTopicError('the registry id may not hold /, + or #');
  return patterns.map((pattern) => {
    if (pattern.includes('{registry}') && registry === undefined) throw new UplinkTopicError(`${pattern}: {registry} needs VIGIL_UPLINK_REGISTRY`);
    const levels = pattern.replaceAll('{registry}', registry ?? '').split('/');
    const serialAt = levels.indexOf(serialLevel);
    if (serialAt < 0 || levels.lastIndexOf(serialLevel) !== serialAt) throw new UplinkTopicError(`${pattern}: needs {serial} exactly once, as a whole level`);
    levels.forEach((level, i) => {
      if (level === serialLevel || level === '+') return;
      if (level === '#') {
        if (i !== levels.length - 1) throw new UplinkTopicError(`${pattern}: # must be the last level`);
        return;
      }
      if (/[+#{}]/.test(level)) throw new UplinkTopicError(`${pattern}: "${level}" mixes a wildcard or an unknown placeholder into a level`);
    });
    const channel: UplinkChannel = levels[serialAt + 1] === 'heartbeat' ? 'heartbeat' : 'telemetry';
    return { pattern, filter: levels.map((l) => (l === serialLevel ? '+' : l)).join('/'), channel, levels };
  });
}

/** The first pattern the topic matches decides; undefined when none does (or the serial level is empty). */
export function readUplinkTopic(patterns: readonly UplinkTopicPattern[], topic: string): UplinkTopic | undefined {
  const parts = topic.split('/');
  for (const p of patterns) {
    const serial = match(p.levels, parts);
    if (serial !== undefined) return { serial, channel: p.channel };
  }
  return undefined;
}

function match(levels: readonly string[], parts: readonly string[]): string | undefined {
  let serial: string | undefined;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    // MQTT: `a/#` matches `a` itself and everything under it.
    if (level === '#') return serial;
    const part = parts[i];
    if (part === undefined) return undefined;
    if (level === serialLevel) {
      if (part === '') return undefined;
      serial = part;
    } else if (level !== '+' && level !== part) return undefined;
  }
  return parts.length === levels.length ? serial : undefined;
}
