import { request } from '@vigil/bus';
import { kekFilePath, kmeSubjects, loadKekRing } from '@vigil/kme-contract';
import type { ServiceModule } from '@vigil/runtime';
import { LinkSimulator } from './link-simulator.ts';

function linksOf(value: unknown): { link_id: string; rate_bps: number }[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v: unknown) =>
    typeof v === 'object' && v !== null && 'link_id' in v && typeof v.link_id === 'string' && 'rate_bps' in v && typeof v.rate_bps === 'number'
      ? [{ link_id: v.link_id, rate_bps: v.rate_bps }]
      : [],
  );
}

/** Simulated QKD links: one simulator per link of the KME topology, started as links appear. */
export const qkdSimService: ServiceModule = {
  name: 'qkd-sim',
  usesDatabase: false,
  async start(context) {
    const { bus, logger, config } = context;
    const ring = loadKekRing(kekFilePath(config));
    const simulators = new Map<string, LinkSimulator>();
    const discover = async () => {
      let links: { link_id: string; rate_bps: number }[];
      try {
        links = linksOf(await request(bus, kmeSubjects.links, null, { timeoutMs: 2000 }));
      } catch {
        return;
      }
      for (const l of links) {
        const existing = simulators.get(l.link_id);
        if (existing) {
          existing.rateBps = l.rate_bps;
          continue;
        }
        const sim = new LinkSimulator({ bus, ring, logger, linkId: l.link_id, rateBps: l.rate_bps });
        simulators.set(l.link_id, sim);
        sim.start();
        logger.info({ link: l.link_id, rate_bps: l.rate_bps }, 'QKD link simulator started');
      }
    };
    await discover();
    const timer = setInterval(() => void discover(), 2000);
    return {
      async stop() {
        clearInterval(timer);
        await Promise.all([...simulators.values()].map((s) => s.stop()));
      },
      async details() {
        return { links: [...simulators.values()].map((s) => s.status()) };
      },
    };
  },
};
