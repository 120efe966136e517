// `vigil <command> ...` (`pnpm vigil ...`): the operator's and auditor's command line. Each command is a module
// under ./commands exporting `run(args: string[]): Promise<number>` (the exit code) and a one-line `summary`.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

interface Command {
  readonly summary: string;
  run(args: readonly string[]): Promise<number>;
}

function isCommand(value: unknown): value is Command {
  return typeof value === 'object' && value !== null && 'run' in value && typeof value.run === 'function' && 'summary' in value && typeof value.summary === 'string';
}

const dir = join(import.meta.dirname, 'commands');
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

async function load(name: string): Promise<Command> {
  const module: unknown = await import(join(dir, `${name}.ts`));
  if (!isCommand(module)) throw new Error(`commands/${name}.ts does not export run() and summary`);
  return module;
}

const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || !names.includes(name)) {
  const lines = ['usage: vigil <command> [options]', '', 'commands:'];
  for (const n of names) lines.push(`  ${n.padEnd(12)} ${(await load(n)).summary}`);
  lines.push('', 'vigil <command> --help tells more.');
  (name && name !== '--help' && name !== '-h' ? process.stderr : process.stdout).write(`${lines.join('\n')}\n`);
  process.exit(name && name !== '--help' && name !== '-h' ? 2 : 0);
}
process.exitCode = await (await load(name)).run(args);
