import { kekFilePath, loadKekRing } from '@vigil/kme-contract';
import type { ServiceModule } from '@vigil/runtime';
import { startProjector } from '@vigil/store';
import { Eraser } from './eraser.ts';
import { KmeWorker } from './kme-worker.ts';
import { keyRequestsProjection, keySupplyProjection } from './projections.ts';
import { applyTopologyFile } from './topology-file.ts';

/** The KME worker as a service: alone (`main.ts`) or inside `pnpm start`. */
export const kmeService: ServiceModule = {
  name: 'kme',
  usesDatabase: true,
  async start(context) {
    const { config, bus, logger } = context;
    const ring = loadKekRing(kekFilePath(config));
    const worker = new KmeWorker({ bus, ring, keyTtlSeconds: config.VIGIL_KME_KEY_TTL_SECONDS, logger });
    if (config.VIGIL_KME_TOPOLOGY_FILE) {
      const applied = await applyTopologyFile(bus, config.VIGIL_KME_TOPOLOGY_FILE);
      if (applied.changes > 0) logger.info({ changes: applied.changes, file: config.VIGIL_KME_TOPOLOGY_FILE }, 'KME topology updated');
    }
    await worker.start();
    const eraser = new Eraser({ bus, logger });
    await eraser.start();
    const { database } = context;
    const projections = database ? await Promise.all([keyRequestsProjection, keySupplyProjection].map((p) => startProjector(bus, database, p, { instance: context.instance }))) : [];
    return {
      projections,
      async stop() {
        for (const p of projections) await p.stop();
        await eraser.stop();
        await worker.stop();
      },
      async details() {
        const links = [];
        for (const link of worker.topology.links.values()) {
          const level = await worker.poolLevel(link.id);
          links.push({ ...level, key_size: link.limits.key_size, stored_key_count: Math.floor(level.available_bytes / (link.limits.key_size / 8)) });
        }
        return { kmes: [...worker.topology.kmes], saes: worker.topology.saes.size, links };
      },
    };
  },
};
