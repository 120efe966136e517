import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a file whole or not at all (a temporary file renamed over it), so a listener that reloads a CRL or
 * certificate never reads half of one. Private keys get mode 0600 from the moment they exist.
 */
function writeAtomically(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, content, { mode, flag: 'wx' });
    chmodSync(temporary, mode); // the umask may have taken bits off the mode given at creation
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

export function writePrivateKeyFile(path: string, pem: string): void {
  writeAtomically(path, pem, 0o600);
}

export function writePublicFile(path: string, pem: string): void {
  writeAtomically(path, pem, 0o644);
}
