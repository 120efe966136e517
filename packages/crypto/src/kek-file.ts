import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { kekRing, type Kek, type KekRing } from './seal.ts';

/**
 * Key-encryption keys from a JSON file `{ "current": "<id>", "keys": { "<id>": "<base64 of 32 bytes>" } }`.
 * Rotation: add a key, point `current` at it, restart; older keys stay to open what they sealed.
 */
export function loadKekRing(path: string): KekRing {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('current' in parsed) || !('keys' in parsed)) {
    throw new Error(`${path}: expected {"current": id, "keys": {id: base64}}`);
  }
  const { current, keys } = parsed;
  if (typeof current !== 'string' || typeof keys !== 'object' || keys === null) throw new Error(`${path}: expected {"current": id, "keys": {id: base64}}`);
  const all: Kek[] = [];
  for (const [id, value] of Object.entries(keys)) {
    if (typeof value !== 'string') throw new Error(`${path}: key ${id} is not base64`);
    all.push({ id, key: Buffer.from(value, 'base64') });
  }
  const currentKek = all.find((k) => k.id === current);
  if (!currentKek) throw new Error(`${path}: current key ${current} is not among the keys`);
  return kekRing(currentKek, all.filter((k) => k !== currentKek));
}

/** Writes a new KEK file readable by its owner only; refuses to overwrite one. */
export function createKekFile(path: string, id = 'k1'): void {
  if (existsSync(path)) throw new Error(`${path} exists already`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ current: id, keys: { [id]: randomBytes(32).toString('base64') } }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}
