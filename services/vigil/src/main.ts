// `pnpm start`: every Vigil service in one process, on the embedded defaults (a local nats-server unless
// NATS_URL is set, PGlite unless DATABASE_URL is set, a KEK file and a development PKI unless configured).
import { readEnvFile } from '@vigil/config';
import { runUntilSignal, vigilVersion } from '@vigil/runtime';
import { developmentSecrets } from './dev-secrets.ts';
import { allServices } from './services.ts';

const env = { ...readEnvFile(), ...process.env };
const secrets = await developmentSecrets(env);

await runUntilSignal('vigil', allServices, { embeddedNats: true, ownsDatabase: true, env: { ...env, ...secrets.env } }, (running) => {
  const lines = [`Vigil ${vigilVersion} is up (Ctrl-C stops it)`];
  for (const { module, started } of running.services) for (const e of started.endpoints ?? []) lines.push(`  ${module.name.padEnd(10)} ${e}`);
  lines.push(`  ${'nats'.padEnd(10)} ${running.bus.nc.getServer()} (namespace "${running.config.VIGIL_NAMESPACE}")`);
  if (running.database) {
    const where = running.database.kind === 'pglite' ? `PGlite in ${running.config.VIGIL_DATA_DIR}/pglite` : 'PostgreSQL (DATABASE_URL)';
    lines.push(`  ${'database'.padEnd(10)} ${where}, read models in schema ${running.database.schema}`);
  }
  for (const note of secrets.notes) lines.push(`  ${'secrets'.padEnd(10)} ${note}`);
  process.stdout.write(`${lines.join('\n')}\n`);
});
