/**
 * Stream names and subjects under an optional namespace, so several Vigils or test files share one NATS without
 * seeing each other. Code outside the bus speaks in plain subjects (`audit.acme.system`); only this maps them.
 */
export class BusNames {
  readonly namespace: string;
  readonly #subjectPrefix: string;

  constructor(namespace: string) {
    if (!/^[A-Za-z0-9_-]*$/.test(namespace)) throw new Error(`namespace ${JSON.stringify(namespace)} is not a subject token`);
    this.namespace = namespace;
    this.#subjectPrefix = namespace ? `${namespace}.` : '';
  }

  stream(name: string): string {
    return this.namespace ? `${this.namespace}_${name}` : name;
  }

  subject(subject: string): string {
    return `${this.#subjectPrefix}${subject}`;
  }

  /** The plain subject of a namespaced one. */
  plain(subject: string): string {
    return this.#subjectPrefix && subject.startsWith(this.#subjectPrefix) ? subject.slice(this.#subjectPrefix.length) : subject;
  }

  /** Consumer names share the stream's namespace already; they only need to be valid names. */
  consumer(name: string): string {
    return name.replace(/[^A-Za-z0-9_-]/g, '_');
  }
}

/** A token that may stand in a subject: no dots, wildcards or spaces. */
export function subjectToken(value: string): string {
  if (!/^[A-Za-z0-9_:@=+-]+$/.test(value)) throw new Error(`${JSON.stringify(value)} cannot be a subject token`);
  return value;
}
