// RFC 8785 JSON Canonicalization Scheme for plain JSON values (what parsed events and records hold): object keys
// sorted by UTF-16 code units, no whitespace, strings escaped as ECMAScript JSON.stringify does, numbers written as
// ECMAScript writes them. Written here rather than taken from a package because it runs once per audit record on
// every rebuild, and a direct recursion is several times faster; test/canonical-json.test.ts checks it against the
// RFC's examples and, by property, against the `canonicalize` package.

/** Lone surrogates: JSON.stringify escapes them, RFC 8785 forbids them. */
const loneSurrogate = /\p{Cs}/u;

function byKey(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function writeString(value: string): string {
  if (loneSurrogate.test(value)) throw new TypeError('a string with a lone surrogate has no canonical JSON');
  return JSON.stringify(value);
}

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return writeString(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON representation`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((item: unknown) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
      const members: string[] = [];
      for (const [key, member] of Object.entries(value).sort(byKey)) {
        if (member !== undefined) members.push(`${writeString(key)}:${canonicalJson(member)}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`a ${typeof value} has no JSON representation`);
  }
}
