import { kekFilePath, loadKekRing } from '@vigil/kme-contract';
import type { ServiceModule } from '@vigil/runtime';
import { Eraser } from './eraser.ts';
import { KmeWorker } from './kme-worker.ts';
import { applyTopologyFile } from './topology-file.ts';

/** The KME worker as a service: alone (`main.ts`) or inside `pnpm start`. */
export const kmeService: ServiceModule = {
  name: 'kme',
  usesDatabase: false,
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
    return {
      async stop() {
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
