// `pnpm bench`: runs every bench/*.bench.ts of the workspace, one process each; each prints JSON lines.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const filter = process.argv.slice(2);
const files: string[] = [];
for (const group of ['packages', 'services']) {
  for (const dir of readdirSync(join(root, group))) {
    const benchDir = join(root, group, dir, 'bench');
    let entries: string[] = [];
    try {
      entries = readdirSync(benchDir);
    } catch {
      continue;
    }
    for (const f of entries) if (f.endsWith('.bench.ts')) files.push(relative(root, join(benchDir, f)));
  }
}
let failed = 0;
for (const file of files.filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`${file} failed`);
  }
}
process.exit(failed > 0 ? 1 : 0);
