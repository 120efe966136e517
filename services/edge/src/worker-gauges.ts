import { collectWorkerStatus, type Bus, type WorkerStatus } from '@vigil/bus';
import { Gauge, type Registry } from 'prom-client';

/** How long a scrape waits for workers to report; a scrape must stay quick. */
const scrapeWaitMs = 250;

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)) : [];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value)) : undefined;
}

/** A nested part of a worker's details (`devices` → `mqtt`), if it reported one. */
function partOf(status: WorkerStatus, service: string, part: string): Record<string, unknown> | undefined {
  return record(record(status.details?.[service])?.[part]);
}

/** Counts by key (`{"telemetry.1": 12}`), as a broker reports them. */
function countsOf(value: unknown): [string, number][] {
  return Object.entries(record(value) ?? {}).flatMap(([k, v]) => (typeof v === 'number' && Number.isFinite(v) ? [[k, v]] : []));
}

function linksOf(status: WorkerStatus, service: string): Record<string, unknown>[] {
  const details = status.details?.[service];
  return typeof details === 'object' && details !== null && 'links' in details ? records(details.links) : [];
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Gauges of the KME key pools, the QKD links, the device brokers and the uplink, read from the workers' status at
 * scrape time: the edge holds no state of its own about them. Counts a worker keeps since it started are gauges here
 * (labelled by instance), since a restarted worker starts them again.
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

  const devices = gauge('vigil_mqtt_connected_devices', 'Devices connected to a broker.', ['instance']);
  const messages = gauge('vigil_mqtt_messages', 'MQTT publishes since the broker started: accepted by channel and QoS (telemetry.qos1), refused by reason.', ['instance', 'outcome', 'kind']);
  const refusedConnections = gauge('vigil_mqtt_connections_refused', 'CONNECTs refused since the broker started, by reason.', ['instance', 'reason']);
  const appendFailures = gauge('vigil_mqtt_append_failures', 'Publishes the bus did not confirm since the broker started (no PUBACK was sent), by QoS.', ['instance', 'qos']);
  const uplinkUp = gauge('vigil_uplink_connected', '1 while the uplink is connected to the upstream broker.', ['instance']);
  const uplinkReconnects = gauge('vigil_uplink_reconnects', 'Reconnections of the uplink since it started.', ['instance']);

  function fill(statuses: readonly WorkerStatus[]): void {
    for (const g of [pool, poolBytes, capacity, up, rate, lastBlock, devices, messages, refusedConnections, appendFailures, uplinkUp, uplinkReconnects]) g.reset();
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
      const instance = s.instance;
      const mqtt = partOf(s, 'devices', 'mqtt');
      if (mqtt) {
        const connected = num(mqtt['connected_devices']);
        if (connected !== undefined) devices.set({ instance }, connected);
        const m = record(mqtt['messages']);
        for (const [kind, n] of countsOf(m?.['accepted'])) messages.set({ instance, outcome: 'accepted', kind }, n);
        for (const [kind, n] of countsOf(m?.['refused'])) messages.set({ instance, outcome: 'refused', kind }, n);
        for (const [qos, n] of countsOf(m?.['append_failures'])) appendFailures.set({ instance, qos }, n);
        for (const [reason, n] of countsOf(mqtt['connections_refused'])) refusedConnections.set({ instance, reason }, n);
      }
      const uplink = partOf(s, 'devices', 'uplink');
      if (uplink) {
        uplinkUp.set({ instance }, uplink['connected'] === true ? 1 : 0);
        const reconnects = num(uplink['reconnects']);
        if (reconnects !== undefined) uplinkReconnects.set({ instance }, reconnects);
      }
    }
  }
}
