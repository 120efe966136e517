// `pnpm start`: every Vigil service in one process, on the embedded defaults (a local nats-server unless
// NATS_URL is set, PGlite unless DATABASE_URL is set).
import { existsSync } from 'node:fs';
import { loadConfig } from '@vigil/config';
import { createKekFile, kekFilePath } from '@vigil/kme-contract';
import { runUntilSignal, vigilVersion } from '@vigil/runtime';
import { allServices } from './services.ts';

// On a laptop, the KME's key-encryption key is made on first start beside the embedded data; a deployment names
// its own (VIGIL_KME_KEK_FILE) and a service started alone refuses to run without it.
try {
  const kek = kekFilePath(loadConfig());
  if (!existsSync(kek)) createKekFile(kek);
} catch {
  // A bad setting is reported, with every other one, by the start below.
}

await runUntilSignal('vigil', allServices, { embeddedNats: true, ownsDatabase: true }, (running) => {
  const lines = [`Vigil ${vigilVersion} is up (Ctrl-C stops it)`];
  for (const { module, started } of running.services) for (const e of started.endpoints ?? []) lines.push(`  ${module.name.padEnd(10)} ${e}`);
  lines.push(`  ${'nats'.padEnd(10)} ${running.bus.nc.getServer()} (namespace "${running.config.VIGIL_NAMESPACE}")`);
  if (running.database) lines.push(`  ${'database'.padEnd(10)} ${running.database.kind === 'pglite' ? `PGlite in ${running.config.VIGIL_DATA_DIR}/pglite` : 'PostgreSQL (DATABASE_URL)'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
