// Writes schemas/json from the event declarations; `--check` fails when the committed files differ.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaFiles, vigilEvents } from '../src/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'json');
const check = process.argv.includes('--check');

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : Promise.resolve([join(dir, e.name)]))),
  );
  return nested.flat();
}

const wanted = jsonSchemaFiles(vigilEvents);
const present = (await listFiles(root)).map((f) => relative(root, f));
const drift: string[] = [];
for (const [path, text] of wanted) {
  const current = await readFile(join(root, path), 'utf8').catch(() => undefined);
  if (current === text) continue;
  drift.push(current === undefined ? `missing ${path}` : `changed ${path}`);
  if (!check) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}
for (const path of present.filter((p) => !wanted.has(p))) {
  drift.push(`stale ${path}`);
  if (!check) await rm(join(root, path));
}
if (check && drift.length > 0) {
  console.error(`schemas/json is out of date (run pnpm schemas:generate):\n  ${drift.join('\n  ')}`);
  process.exit(1);
}
console.log(check ? 'schemas/json is up to date' : `schemas/json: ${drift.length} file(s) written or removed`);
