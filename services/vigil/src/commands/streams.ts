// `vigil streams`: the JetStream streams of this Vigil (NATS_URL, VIGIL_NAMESPACE), with their counts and limits.
import { parseArgs } from 'node:util';
import { connectBus, drainBus, streamDeclarations } from '@vigil/bus';
import { busSecurityOf } from '@vigil/runtime';
import { loadConfig } from '@vigil/config';
import { createLogger } from '@vigil/log';

export const summary = 'list the streams with their subjects, message counts and sizes';

export async function run(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write('usage: vigil streams [--json]\n\nNeeds NATS_URL (and VIGIL_NAMESPACE when one is used).\n');
    return 0;
  }
  const config = loadConfig();
  if (!config.NATS_URL) {
    process.stderr.write('vigil streams: set NATS_URL to the NATS server of the Vigil to inspect\n');
    return 1;
  }
  const bus = await connectBus({ servers: config.NATS_URL, name: 'vigil-cli', logger: createLogger({ service: 'cli', level: 'warn' }), namespace: config.VIGIL_NAMESPACE, ensureStreams: false, security: busSecurityOf(config) });
  try {
    const rows = [];
    for (const d of streamDeclarations) {
      const name = bus.names.stream(d.name);
      const info = await bus.jsm.streams.info(name).catch(() => undefined);
      rows.push({ stream: name, subjects: d.subjects.join(' '), messages: info?.state.messages ?? null, bytes: info?.state.bytes ?? null, last_seq: info?.state.last_seq ?? null });
    }
    if (values.json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    else for (const r of rows) process.stdout.write(`${r.stream.padEnd(24)} ${String(r.messages ?? 'missing').padStart(10)} msgs ${String(r.bytes ?? '-').padStart(12)} B  last ${r.last_seq ?? '-'}  ${r.subjects}\n`);
    return 0;
  } finally {
    await drainBus(bus);
  }
}
