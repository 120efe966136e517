// `vigil projections list | rebuild | verify`: the read models, rebuilt from the streams or checked against a rebuild,
// in the schema of VIGIL_READ_MODEL_SCHEMA or the one `--schema` names (a release's new read models, before it runs).
import { parseArgs } from 'node:util';
import { auditProjection, prepareAuditRebuild, progressOnStderr, readDeliveries } from '@vigil/audit';
import { ConfigError, loadConfig, settings } from '@vigil/config';
import { keyRequestsProjection, keySupplyProjection } from '@vigil/kme';
import { compareWithRebuild, ProjectionBusyError, readCheckpoint, rebuildProjection, type Projection } from '@vigil/store';
import { createTelemetryProjection, devicesProjection, retentionPolicyOf } from '@vigil/telemetry';
import { withDatabase } from '../read-model-context.ts';

/** Readings are kept as the running service keeps them; a bad configuration is reported when the context opens. */
function configuredRetention() {
  try {
    return retentionPolicyOf(loadConfig());
  } catch (err) {
    if (err instanceof ConfigError) return retentionPolicyOf({ VIGIL_TELEMETRY_RETENTION_DAYS: 30 });
    throw err;
  }
}

/**
 * Every read model built from the streams, by name. Listed here rather than taken from the services, so the command
 * loads only the projections, not every service's dependencies.
 */
const allProjections: readonly Projection[] = [
  auditProjection,
  keyRequestsProjection,
  keySupplyProjection,
  devicesProjection,
  createTelemetryProjection({ policy: configuredRetention() }),
];

export const summary = 'list, rebuild or verify the read models projected from the streams';

const usage = `usage:
  vigil projections list [--schema S]
  vigil projections rebuild [NAME ...] [--schema S]   empty each projection's tables and checkpoint, replay its stream
  vigil projections verify [NAME ...] [--schema S]    rebuild into a scratch schema and compare row counts and checksums

Without NAME: every projection (${allProjections.map((p) => p.name).join(', ')}).
--schema S: the read models in schema S (created and migrated when missing) rather than VIGIL_READ_MODEL_SCHEMA's;
a new release's schema is built this way beside the running release (README: Read-model migrations and rollback).
Stop the services that run a projection in that schema before rebuilding it (a running projector holds it; rebuild
refuses); projectors of other schemas do not matter.
Connects like \`vigil audit\`: NATS_URL and DATABASE_URL, else the embedded stores under VIGIL_DATA_DIR (Vigil stopped).
`;

function selected(names: readonly string[]): Projection[] | string {
  if (names.length === 0) return [...allProjections];
  const out: Projection[] = [];
  for (const name of names) {
    const p = allProjections.find((x) => x.name === name);
    if (!p) return `no projection ${JSON.stringify(name)} (there are: ${allProjections.map((x) => x.name).join(', ')})`;
    out.push(p);
  }
  return out;
}

export async function run(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' }, schema: { type: 'string' } },
  });
  const [action, ...names] = positionals;
  if (values.help || !action) {
    (values.help ? process.stdout : process.stderr).write(usage);
    return values.help ? 0 : 2;
  }
  let schema: string | undefined;
  try {
    schema = values.schema === undefined ? undefined : settings.VIGIL_READ_MODEL_SCHEMA.parse(values.schema);
  } catch (err) {
    process.stderr.write(`vigil projections: --schema ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const projections = selected(names);
  if (typeof projections === 'string') {
    process.stderr.write(`vigil projections: ${projections}\n`);
    return 2;
  }
  switch (action) {
    case 'list':
      return withDatabase('projections', schema, async ({ database }) => {
        for (const p of projections) {
          const checkpoint = await readCheckpoint(database, p.name);
          const line = { projection: p.name, stream: p.stream, schema: database.schema, checkpoint };
          process.stdout.write(values.json ? `${JSON.stringify(line)}\n` : `${p.name.padEnd(24)} ${p.stream.padEnd(18)} checkpoint ${checkpoint}\n`);
        }
        return 0;
      });
    case 'rebuild':
      // The audit trail's rebuild encodes on a worker thread: started now, it is ready by the time the stream is read.
      if (projections.some((p) => p.name === auditProjection.name)) prepareAuditRebuild();
      return withDatabase('projections', schema, async ({ bus, database }) => {
        for (const p of projections) {
          const progress = progressOnStderr(`rebuilding ${p.name}`);
          try {
            const result = await rebuildProjection(bus, database, p, { instance: `vigil-cli-${process.pid}`, onProgress: (seq, target) => progress.update(seq, target) });
            progress.done();
            process.stdout.write(`${p.name}: rebuilt up to seq ${result.checkpoint} in ${(result.ms / 1000).toFixed(1)} s (schema ${database.schema})\n`);
          } catch (err) {
            progress.done();
            if (err instanceof ProjectionBusyError) {
              process.stderr.write(`vigil projections: ${err.message}\n`);
              return 1;
            }
            throw err;
          }
        }
        return 0;
      });
    case 'verify':
      return withDatabase('projections', schema, async ({ bus, database }) => {
        let equal = true;
        for (const p of projections) {
          const comparison = await compareWithRebuild(database, p, (untilSeq) => readDeliveries(bus, p.stream, { untilSeq, ...(p.filterSubject ? { filterSubject: p.filterSubject } : {}) }));
          equal &&= comparison.equal;
          if (values.json) {
            process.stdout.write(`${JSON.stringify({ ...comparison, schema: database.schema })}\n`);
            continue;
          }
          process.stdout.write(`${p.name} (up to seq ${comparison.checkpoint}): ${comparison.equal ? 'equal to a rebuild' : 'DIFFERS from a rebuild'} (schema ${database.schema})\n`);
          for (const t of comparison.tables) {
            const detail = t.equal ? `${t.live.rows} rows, checksum ${t.live.checksum}` : `live ${t.live.rows} rows, checksum ${t.live.checksum}; rebuilt ${t.rebuilt.rows} rows, checksum ${t.rebuilt.checksum}`;
            process.stdout.write(`  ${t.table.padEnd(22)} ${t.equal ? 'equal' : 'DIFFERENT'}  ${detail}\n`);
          }
        }
        return equal ? 0 : 1;
      });
    default:
      process.stderr.write(`vigil projections: unknown action ${JSON.stringify(action)}\n${usage}`);
      return 2;
  }
}
