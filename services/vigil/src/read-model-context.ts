// What the commands on read models share: the CLI context with its database open, closed again whatever happens.
import { openCliContext, type CliContext } from '@vigil/audit';

export type DatabaseContext = CliContext & { readonly database: NonNullable<CliContext['database']> };

/** Runs `run` with the read models of `schema` (else VIGIL_READ_MODEL_SCHEMA); a failure to connect is one line on stderr and exit code 1. */
export async function withDatabase(command: string, schema: string | undefined, run: (context: DatabaseContext) => Promise<number>): Promise<number> {
  let context: CliContext;
  try {
    context = await openCliContext({ database: true, ...(schema ? { schema } : {}) });
  } catch (err) {
    process.stderr.write(`vigil ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  try {
    const { database } = context;
    if (!database) return 1;
    return await run({ ...context, database });
  } finally {
    await context.close();
  }
}
