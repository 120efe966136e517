// `vigil audit verify | export | replay`: the auditor's tools over the AUDIT stream and the audit_log table.
import { parseArgs } from 'node:util';
import { describeReport, exportAudit, openCliContext, progressOnStderr, replayStream, verifyAudit, type CliContext } from '@vigil/audit';
import { streamDeclarations } from '@vigil/bus';

export const summary = 'verify the audit chain, export it, or replay any stream as recorded';

const usage = `usage:
  vigil audit verify [--json]
      Recompute the hash chain from the audit_log table and from the AUDIT stream, check every checkpoint, and
      report the first broken link (record, expected, found) or "intact: N records up to seq S, head hash H".
      Exit code 0 when intact, 1 when broken.
  vigil audit export [--since TIME] [--until TIME] [--tenant ID] [--category NAME]
      The chained records as JSON Lines (each with prev_hash, hash and algorithm), in chain order.
  vigil audit replay --stream NAME [--from-seq N | --since TIME] [--until-seq N]
      The messages of a stream as they were recorded, as JSON Lines {stream, seq, subject, time, event}.

Connects to NATS_URL (else the embedded nats-server store under VIGIL_DATA_DIR) and DATABASE_URL (else the
PGlite under VIGIL_DATA_DIR). The embedded stores are single-process: stop Vigil before using them here.
Progress goes to stderr when it is a terminal; output is plain otherwise.
`;

function fail(message: string): number {
  process.stderr.write(`vigil audit: ${message}\n`);
  return 2;
}

function parseTime(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw new UsageError(`--${name} must be a date or time (ISO 8601), not ${JSON.stringify(value)}`);
  return t;
}

function parseSeq(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a sequence number from 1`);
  return Number(value);
}

class UsageError extends Error {}

/** Writes a line, waiting when stdout is full, so exporting millions of records keeps memory flat. */
async function writeLine(value: unknown): Promise<void> {
  if (!process.stdout.write(`${JSON.stringify(value)}\n`)) await new Promise((r) => process.stdout.once('drain', r));
}

async function withContext(database: boolean, run: (context: CliContext) => Promise<number>): Promise<number> {
  let context: CliContext;
  try {
    context = await openCliContext({ database });
  } catch (err) {
    process.stderr.write(`vigil audit: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  try {
    return await run(context);
  } finally {
    await context.close();
  }
}

export async function run(args: readonly string[]): Promise<number> {
  const [action, ...rest] = args;
  if (!action || action === '--help' || action === '-h') {
    (action ? process.stdout : process.stderr).write(usage);
    return action ? 0 : 2;
  }
  try {
    switch (action) {
      case 'verify': {
        const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
        return await withContext(true, async ({ bus, database }) => {
          if (!database) return 1;
          const progress = progressOnStderr('verifying AUDIT');
          const report = await verifyAudit(bus, database, { onProgress: (seq, last) => progress.update(seq, last) });
          progress.done();
          process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${describeReport(report)}\n`);
          return report.intact ? 0 : 1;
        });
      }
      case 'export': {
        const { values } = parseArgs({ args: rest, options: { since: { type: 'string' }, until: { type: 'string' }, tenant: { type: 'string' }, category: { type: 'string' } } });
        const since = parseTime(values.since, 'since');
        const until = parseTime(values.until, 'until');
        return await withContext(true, async ({ database }) => {
          if (!database) return 1;
          const filter = { ...(since ? { since } : {}), ...(until ? { until } : {}), ...(values.tenant ? { tenant: values.tenant } : {}), ...(values.category ? { category: values.category } : {}) };
          for await (const record of exportAudit(database, filter)) await writeLine(record);
          return 0;
        });
      }
      case 'replay': {
        const { values } = parseArgs({ args: rest, options: { stream: { type: 'string' }, 'from-seq': { type: 'string' }, since: { type: 'string' }, 'until-seq': { type: 'string' } } });
        const stream = streamDeclarations.find((d) => d.name === values.stream)?.name;
        if (!stream) return fail(`--stream must be one of ${streamDeclarations.map((d) => d.name).join(', ')}`);
        if (values['from-seq'] !== undefined && values.since !== undefined) return fail('give --from-seq or --since, not both');
        const fromSeq = parseSeq(values['from-seq'], 'from-seq');
        const untilSeq = parseSeq(values['until-seq'], 'until-seq');
        const since = parseTime(values.since, 'since');
        return await withContext(false, async ({ bus }) => {
          for await (const m of replayStream(bus, stream, { ...(fromSeq ? { fromSeq } : {}), ...(untilSeq ? { untilSeq } : {}), ...(since ? { since } : {}) })) await writeLine(m);
          return 0;
        });
      }
      default:
        return fail(`unknown action ${JSON.stringify(action)}\n${usage}`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS'))) return fail(err.message);
    throw err;
  }
}
