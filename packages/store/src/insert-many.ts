import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
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
