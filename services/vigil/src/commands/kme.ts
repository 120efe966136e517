// `vigil kme ...`: operator tasks of the key management entity.
import { parseArgs } from 'node:util';
import { connectBus, drainBus } from '@vigil/bus';
import { busSecurityOf } from '@vigil/runtime';
import { loadConfig } from '@vigil/config';
import { applyTopologyFile } from '@vigil/kme';
import { createKekFile } from '@vigil/kme-contract';
import { createLogger } from '@vigil/log';

export const summary = 'KME tasks: a new key-encryption key file, applying a topology file';

const usage = `usage:
  vigil kme kek --out FILE          write a new KEK file (mode 0600) for VIGIL_KME_KEK_FILE
  vigil kme topology --file FILE    register or update the KMEs, SAEs and links of FILE (needs NATS_URL)
`;

export async function run(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { out: { type: 'string' }, file: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || (sub !== 'kek' && sub !== 'topology')) {
    (values.help ? process.stdout : process.stderr).write(usage);
    return values.help ? 0 : 2;
  }
  if (sub === 'kek') {
    if (!values.out) {
      process.stderr.write(usage);
      return 2;
    }
    createKekFile(values.out);
    process.stdout.write(`wrote ${values.out}\n`);
    return 0;
  }
  const config = loadConfig();
  if (!values.file || !config.NATS_URL) {
    process.stderr.write(values.file ? 'vigil kme topology: set NATS_URL to the Vigil to configure\n' : usage);
    return 2;
  }
  const bus = await connectBus({ servers: config.NATS_URL, name: 'vigil-cli', logger: createLogger({ service: 'cli', level: 'warn' }), namespace: config.VIGIL_NAMESPACE, streamReplicas: config.NATS_STREAM_REPLICAS, security: busSecurityOf(config) });
  try {
    const applied = await applyTopologyFile(bus, values.file);
    process.stdout.write(applied.changes === 0 ? 'topology unchanged\n' : `topology updated: ${applied.changes} change(s), sequence ${applied.seq}\n`);
    return 0;
  } finally {
    await drainBus(bus);
  }
}
