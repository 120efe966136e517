import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { copyField, copyNull } from './copy-text.ts';
import type { Tx } from './database.ts';

/**
 * Inserts many rows with one parameter: the rows as JSON, expanded by `json_to_recordset`. A multi-row VALUES
 * through Drizzle binds a parameter per cell and costs ~4× more per batch, which is the whole budget of a
 * high-volume projection. Rows must share the same keys; values must be JSON-representable (numbers, strings,
 * booleans, null, ISO dates).
 */
export async function insertMany<T extends PgTable>(tx: Tx, table: T, rows: readonly T['$inferInsert'][]): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const columns = getTableColumns(table);
  const keys = Object.keys(first).filter((k) => k in columns);
  const names: SQL[] = [];
  const typed: SQL[] = [];
  for (const key of keys) {
    const column = columns[key];
    if (!column) continue;
    names.push(sql`${sql.identifier(column.name)}`);
    // The SQL type comes from the table definition in code, never from input.
    typed.push(sql`${sql.identifier(column.name)} ${sql.raw(column.getSQLType())}`);
  }
  const json = JSON.stringify(
    rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        const column = columns[key];
        if (column) out[column.name] = Object.getOwnPropertyDescriptor(row, key)?.value ?? null;
      }
      return out;
    }),
  );
  const list = sql.join(names, sql`, `);
  await tx.execute(
    sql`insert into ${sql.identifier(getTableName(table))} (${list}) select ${list} from json_to_recordset(${json}::json) as x(${sql.join(typed, sql`, `)})`,
  );
}

/** Rows of one table as COPY text format: the column names to COPY into, and whole lines for a batch of rows. */
export interface CopyEncoder<T extends PgTable> {
  readonly columns: readonly string[];
  encode(rows: readonly T['$inferInsert'][]): string;
}

/**
 * Encodes rows for `COPY table (columns) FROM STDIN` (text format): the columns are those the sample row has, as
 * with insertMany. Values as PostgreSQL reads them back: null as `\N`, dates in ISO 8601, JSON columns as JSON
 * text, numbers and booleans as text. Rows must share the sample's keys.
 */
export function copyEncoder<T extends PgTable>(table: T, sample: T['$inferInsert']): CopyEncoder<T> {
  const columns = getTableColumns(table);
  const fields: { key: string; json: boolean }[] = [];
  const names: string[] = [];
  for (const key of Object.keys(sample)) {
    const column = columns[key];
    if (!column) continue;
    fields.push({ key, json: column.getSQLType().startsWith('json') });
    names.push(column.name);
  }
  const field = (value: unknown, json: boolean): string => {
    if (value === null || value === undefined) return copyNull;
    if (json) return copyField(JSON.stringify(value));
    switch (typeof value) {
      case 'string':
        return copyField(value);
      case 'number':
      case 'bigint':
        return String(value);
      case 'boolean':
        return value ? 't' : 'f';
      default:
        if (value instanceof Date) return value.toISOString();
        throw new TypeError(`a ${typeof value} for a column that is not JSON has no COPY text here`);
    }
  };
  return {
    columns: names,
    encode(rows) {
      let out = '';
      for (const row of rows) {
        let line = '';
        for (let i = 0; i < fields.length; i++) {
          const f = fields[i];
          if (f) line += `${i === 0 ? '' : '\t'}${field(Reflect.get(row, f.key), f.json)}`;
        }
        out += `${line}\n`;
      }
      return out;
    },
  };
}
