// `vigil read-models list | drop`: the read-model schemas of the database (one per release whose read models
// changed, VIGIL_READ_MODEL_SCHEMA), and dropping an old release's schema once it will not be rolled back to.
import { parseArgs } from 'node:util';
import { settings } from '@vigil/config';
import { dropReadModelSchema, listReadModelSchemas, ProjectionBusyError, ReadModelSchemaRefusedError } from '@vigil/store';
import { withDatabase } from '../read-model-context.ts';

export const summary = 'list the read-model schemas, or drop an old release\'s schema after its rollback window';

const usage = `usage:
  vigil read-models list [--json]
      Every schema of the database that holds read models, with each projection's checkpoint there; the one these
      settings run on (VIGIL_READ_MODEL_SCHEMA) is marked.
  vigil read-models drop --schema S [--force]
      Drops schema S (tables and checkpoints) and deletes its projectors' durable consumers. Refuses the schema
      these settings run on, \`public\` unless --force, a schema that holds no read models, and a schema whose
      projectors still run (stop that release first). Nothing of it can be rolled back to afterwards, except by
      rebuilding it from the streams.

Connects like \`vigil audit\`: NATS_URL and DATABASE_URL, else the embedded stores under VIGIL_DATA_DIR (Vigil stopped).
`;

export async function run(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, schema: { type: 'string' }, force: { type: 'boolean' } },
  });
  const [action] = positionals;
  if (values.help || !action) {
    (values.help ? process.stdout : process.stderr).write(usage);
    return values.help ? 0 : 2;
  }
  switch (action) {
    case 'list':
      return withDatabase('read-models', undefined, async ({ database }) => {
        for (const s of await listReadModelSchemas(database)) {
          if (values.json) {
            process.stdout.write(`${JSON.stringify(s)}\n`);
            continue;
          }
          process.stdout.write(`${s.schema}${s.current ? ' (current)' : ''}\n`);
          for (const p of s.projections) process.stdout.write(`  ${p.name.padEnd(24)} checkpoint ${String(p.checkpoint).padEnd(10)} updated ${p.updatedAt}\n`);
        }
        return 0;
      });
    case 'drop': {
      if (values.schema === undefined) {
        process.stderr.write(`vigil read-models: drop needs --schema\n${usage}`);
        return 2;
      }
      let schema: string;
      try {
        schema = settings.VIGIL_READ_MODEL_SCHEMA.parse(values.schema);
      } catch (err) {
        process.stderr.write(`vigil read-models: --schema ${err instanceof Error ? err.message : String(err)}\n`);
        return 2;
      }
      return withDatabase('read-models', undefined, async ({ bus, database }) => {
        try {
          const dropped = await dropReadModelSchema(bus, database, schema, { instance: `vigil-cli-${process.pid}`, force: values.force === true });
          const consumers = dropped.consumers.length > 0 ? dropped.consumers.join(', ') : 'none';
          process.stdout.write(`dropped schema ${dropped.schema} (projections: ${dropped.projections.join(', ') || 'none'}; consumers deleted: ${consumers})\n`);
          return 0;
        } catch (err) {
          if (err instanceof ReadModelSchemaRefusedError || err instanceof ProjectionBusyError) {
            process.stderr.write(`vigil read-models: ${err.message}\n`);
            return 1;
          }
          throw err;
        }
      });
    }
    default:
      process.stderr.write(`vigil read-models: unknown action ${JSON.stringify(action)}\n${usage}`);
      return 2;
  }
}
