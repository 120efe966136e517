// PostgreSQL's COPY text format, one field at a time. A module of its own, imported by nothing heavier than itself,
// so a worker thread that writes COPY lines (the audit rebuild's) loads it without the database drivers; it is
// `@vigil/store/copy-text`, and copyEncoder writes its fields with it too.

/** Characters COPY's text format escapes with a backslash. */
const copySpecial = /[\\\n\r\t]/;
const copyEscapes: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** What COPY reads as null. */
export const copyNull = '\\N';

/** A text value as one field of a COPY text line (null as `\N`). */
export function copyField(text: string | null): string {
  if (text === null) return copyNull;
  return copySpecial.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => copyEscapes[c] ?? c) : text;
}
