import { randomBytes } from 'node:crypto';
import type { Bus } from '@vigil/bus';
import { kekRing, type KekRing } from '@vigil/crypto';
import type { Logger } from '@vigil/log';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { applyTopology, KmeWorker, type TopologyDeclaration } from '../src/index.ts';
import type { LinkLimits } from '../src/topology.ts';

export interface KmeFixture {
  readonly t: TestBus;
  readonly ring: KekRing;
  readonly worker: KmeWorker;
  /** Another KME worker on its own connection (a second replica). */
  startWorker(bus: Bus): Promise<KmeWorker>;
  close(): Promise<void>;
}

/** KME_A and KME_B joined by link AB, with SAE_A on A and SAE_B (and any `slaves`) on B, unless a topology is given. */
export function twoKmes(limits: LinkLimits, slaves: readonly string[] = []): TopologyDeclaration {
  return {
    kmes: [{ id: 'KME_A' }, { id: 'KME_B' }],
    saes: [{ id: 'SAE_A', kme: 'KME_A' }, { id: 'SAE_B', kme: 'KME_B' }, ...slaves.map((id) => ({ id, kme: 'KME_B' }))],
    links: [{ id: 'AB', kmes: ['KME_A', 'KME_B'], rate_bps: 1000, limits }],
  };
}

/** A real NATS, the topology applied, and a KME worker that has seen it. */
export async function startKmeFixture(options: { topology: TopologyDeclaration; keyTtlSeconds?: number; logger?: Logger }): Promise<KmeFixture> {
  const logger = options.logger ?? testLogger('kme');
  const t = await startTestBus({ logger });
  const ring = kekRing({ id: 'k1', key: randomBytes(32) });
  const applied = await applyTopology(t.bus, options.topology);
  const workers: KmeWorker[] = [];
  const startWorker = async (bus: Bus) => {
    const w = new KmeWorker({ bus, ring, keyTtlSeconds: options.keyTtlSeconds ?? 3600, logger });
    await w.start();
    await w.topologyReaches(applied.seq);
    workers.push(w);
    return w;
  };
  const worker = await startWorker(t.bus);
  return {
    t,
    ring,
    worker,
    startWorker,
    async close() {
      for (const w of workers) await w.stop();
      await t.close();
    },
  };
}
