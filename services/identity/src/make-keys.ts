// Makes the identity's key files for a deployment (compose secrets, Kubernetes secrets):
//   node --import tsx services/identity/src/make-keys.ts kek deploy/secrets/identity-kek.json
//   node --import tsx services/identity/src/make-keys.ts signing deploy/secrets/signing-keys.json
//   node --import tsx services/identity/src/make-keys.ts rotate deploy/secrets/signing-keys.json   (adds a key, makes it current)
import { createKekFile } from '@vigil/crypto';
import { createSigningKeysFile, rotateSigningKeysFile } from './signing-keys.ts';

const [what, path] = process.argv.slice(2);
if (!path || !['kek', 'signing', 'rotate'].includes(what ?? '')) {
  process.stderr.write('usage: make-keys.ts kek|signing|rotate <file>\n');
  process.exit(2);
}
if (what === 'kek') createKekFile(path);
else if (what === 'signing') createSigningKeysFile(path);
else rotateSigningKeysFile(path);
process.stdout.write(`${what === 'rotate' ? 'rotated' : 'wrote'} ${path}\n`);
