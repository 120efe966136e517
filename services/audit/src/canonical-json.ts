// RFC 8785 JSON Canonicalization Scheme for plain JSON values (what parsed events and records hold): object keys
// sorted by UTF-16 code units, no whitespace, strings escaped as ECMAScript JSON.stringify does, numbers written as
// ECMAScript writes them. Written here rather than taken from a package because it runs once per audit record on
// every rebuild, and a direct recursion is several times faster; test/canonical-json.test.ts checks it against the
// RFC's examples and, by property, against the `canonicalize` package.

/** Lone surrogates: JSON.stringify escapes them, RFC 8785 forbids them. */
const loneSurrogate = /\p{Cs}/u;

/** A string as RFC 8785 writes it: JSON.stringify's escaping, lone surrogates refused. */
export function canonicalString(value: string): string {
  const text = JSON.stringify(value);
  // JSON.stringify writes a lone surrogate as a `\udXXX` escape: only text holding a `\u` can hold one, so the
  // (slower) exact test runs on those alone.
  if (text.includes('\\u') && loneSurrogate.test(value)) throw new TypeError('a string with a lone surrogate has no canonical JSON');
  return text;
}

/** A number as RFC 8785 writes it (ECMAScript's shortest round-trip form); NaN and infinities refused. */
export function canonicalNumber(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON representation`);
  return JSON.stringify(value);
}

// Keys repeat from one value to the next (the fields of an event's data): their text is remembered, up to a bound.
const keyTexts = new Map<string, string>();
function canonicalKey(key: string): string {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = canonicalString(key);
    if (keyTexts.size < 4096) keyTexts.set(key, text);
  }
  return text;
}

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return canonicalString(value);
    case 'number':
      return canonicalNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          out += `${i === 0 ? '' : ','}${item === undefined ? 'null' : canonicalJson(item)}`;
        }
        return `${out}]`;
      }
      // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as RFC 8785 requires.
      const keys = Object.keys(value).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member: unknown = Reflect.get(value, key);
        if (member === undefined) continue;
        out += `${first ? '' : ','}${canonicalKey(key)}:${canonicalJson(member)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`a ${typeof value} has no JSON representation`);
  }
}
