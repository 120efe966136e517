// `pnpm start`: every Vigil service in one process, on the embedded defaults (a local nats-server unless
// NATS_URL is set, PGlite unless DATABASE_URL is set).
import { runUntilSignal, vigilVersion } from '@vigil/runtime';
import { allServices } from './services.ts';

await runUntilSignal('vigil', allServices, { embeddedNats: true, ownsDatabase: true }, (running) => {
  const lines = [`Vigil ${vigilVersion} is up (Ctrl-C stops it)`];
  for (const { module, started } of running.services) for (const e of started.endpoints ?? []) lines.push(`  ${module.name.padEnd(10)} ${e}`);
  lines.push(`  ${'nats'.padEnd(10)} ${running.bus.nc.getServer()} (namespace "${running.config.VIGIL_NAMESPACE}")`);
  if (running.database) lines.push(`  ${'database'.padEnd(10)} ${running.database.kind === 'pglite' ? `PGlite in ${running.config.VIGIL_DATA_DIR}/pglite` : 'PostgreSQL (DATABASE_URL)'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
