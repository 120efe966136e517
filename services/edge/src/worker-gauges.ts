import { collectWorkerStatus, type Bus, type WorkerStatus } from '@vigil/bus';
import { Gauge, type Registry } from 'prom-client';

/** How long a scrape waits for workers to report; a scrape must stay quick. */
const scrapeWaitMs = 250;

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)) : [];
}

function linksOf(status: WorkerStatus, service: string): Record<string, unknown>[] {
  const details = status.details?.[service];
  return typeof details === 'object' && details !== null && 'links' in details ? records(details.links) : [];
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Gauges of the KME key pools and the QKD links, read from the workers' status at scrape time: the edge holds no
 * state of its own about them.
 */
export function registerWorkerGauges(registry: Registry, bus: Bus): void {
  // prom-client collects every metric of a scrape at once: they share one round trip to the workers.
  let round: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    round ??= collectWorkerStatus(bus, scrapeWaitMs)
      .then(fill)
      .finally(() => {
        round = undefined;
      });
    return round;
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry], collect: refresh });
  const pool = gauge('vigil_kme_pool_keys', 'Keys of the default key_size a link can deliver now.', ['link']);
  const poolBytes = gauge('vigil_kme_pool_bytes', 'Unallocated key material of a link, in bytes.', ['link']);
  const capacity = gauge('vigil_kme_pool_capacity_bytes', 'Key material a link pool holds at most (max_key_count keys of key_size).', ['link']);
  const up = gauge('vigil_qkd_link_up', '1 while the QKD link produces, or pauses because its pool is full.', ['link', 'state']);
  const rate = gauge('vigil_qkd_link_rate_bps', 'Secret key rate of the QKD link, bits per second.', ['link']);
  const lastBlock = gauge('vigil_qkd_link_last_block_timestamp_seconds', 'When the QKD link last published a block.', ['link']);

  function fill(statuses: readonly WorkerStatus[]): void {
    for (const g of [pool, poolBytes, capacity, up, rate, lastBlock]) g.reset();
    for (const s of statuses) {
      for (const l of linksOf(s, 'kme')) {
        const link = str(l['link_id']);
        if (!link) continue;
        const keys = num(l['stored_key_count']);
        const bytes = num(l['available_bytes']);
        const cap = num(l['capacity_bytes']);
        if (keys !== undefined) pool.set({ link }, keys);
        if (bytes !== undefined) poolBytes.set({ link }, bytes);
        if (cap !== undefined) capacity.set({ link }, cap);
      }
      for (const l of linksOf(s, 'qkd-sim')) {
        const link = str(l['link_id']);
        const state = str(l['state']);
        if (!link || !state) continue;
        up.set({ link, state }, state === 'up' || state === 'paused_full' ? 1 : 0);
        const r = num(l['rate_bps']);
        if (r !== undefined) rate.set({ link }, r);
        const at = str(l['last_block_at']);
        if (at) lastBlock.set({ link }, Date.parse(at) / 1000);
      }
    }
  }
}
