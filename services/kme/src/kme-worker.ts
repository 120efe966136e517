import {
  append,
  ConcurrencyError,
  createEvent,
  followEvents,
  handleCommand,
  isEventOf,
  isVigilError,
  serve,
  type Bus,
  type Caller,
  type Following,
  type Served,
} from '@vigil/bus';
import type { KekRing } from '@vigil/crypto';
import {
  etsiMessages,
  KmeBadRequestError,
  KmeUnauthorizedError,
  KmeUnavailableError,
  kmeSubjects,
  parseDecKeysRequest,
  parseEncKeysRequest,
  parsePoolLevelRequest,
  parseRemoveSaeRequest,
  parseStatusRequest,
  parseTopologyDeclaration,
  type PoolLevel,
  type TopologyApplied,
  type TopologyDeclaration,
  sealForEdge,
  type DecKeysRequest,
  type EncKeysRequest,
  type SealedKeyContainer,
  type StatusRequest,
  type Status,
} from '@vigil/kme-contract';
import { ForbiddenError, permissions, platformTenant } from '@vigil/identity-contract';
import type { Logger } from '@vigil/log';
import { KeyAccessGranted, KeyAccessRefused, KeysAllocated, KeysDelivered, StreamName } from '@vigil/schemas';
import { keyIdOf, newRequestId, requestIdOf } from './key-ids.ts';
import { keyRequestDecider, requestSubject, type Delivery } from './key-request.ts';
import { availableBytes, checkKeyRequest, decideAllocations, keyMaterial, storedKeyCount, type AllocationData, type Cursor, type EncKeysCommand } from './pool.ts';
import { BlockReader, SupplyView } from './supply.ts';
import { changeTopology } from './topology-file.ts';
import { declarationOf, emptyTopology, evolveTopology, linkBetween, targetKme, topologyEvents, topologySubject, type Link, type Sae, type Topology } from './topology.ts';

export interface KmeWorkerOptions {
  readonly bus: Bus;
  readonly ring: KekRing;
  readonly keyTtlSeconds: number;
  readonly logger: Logger;
}

interface PendingAllocation {
  readonly command: EncKeysCommand;
  resolve(allocation: AllocationData): void;
  reject(err: unknown): void;
}

/** The most enc_keys requests one allocation event decides. */
const maxAllocationsPerEvent = 256;

interface PoolHead {
  readonly seq: number;
  readonly cursor: Cursor | undefined;
}



/**
 * The KME: answers the ETSI 014 operations the edge forwards. Stateless across restarts — the topology and the
 * supply are views of the streams, and every decision that must not race is an append with the expected last
 * subject sequence — so any number of replicas serve the same links.
 */
export class KmeWorker {
  readonly #bus: Bus;
  readonly #ring: KekRing;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #supply: SupplyView;
  readonly #blocks: BlockReader;
  #topology: Topology = emptyTopology;
  #topologyFollowing: Following | undefined;
  readonly #heads = new Map<string, PoolHead>();
  /** enc_keys waiting for their link's next group commit. */
  readonly #pending = new Map<string, PendingAllocation[]>();
  readonly #draining = new Set<string>();
  readonly #served: Served[] = [];

  constructor(options: KmeWorkerOptions) {
    this.#bus = options.bus;
    this.#ring = options.ring;
    this.#ttlMs = options.keyTtlSeconds * 1000;
    this.#logger = options.logger;
    this.#supply = new SupplyView(options.bus);
    this.#blocks = new BlockReader(options.bus, options.ring);
  }

  get topology(): Topology {
    return this.#topology;
  }

  async start(): Promise<void> {
    this.#topologyFollowing = await followEvents(this.#bus, topologySubject, ({ event }) => {
      if (isEventOf(topologyEvents, event)) this.#topology = evolveTopology(this.#topology, event);
    });
    await this.#topologyFollowing.caughtUp;
    await this.#supply.start();
    this.#served.push(
      serve(this.#bus, { subject: kmeSubjects.status, parse: parseStatusRequest, handle: (r) => this.#audited('status', r.caller, () => this.status(r.caller, r.data)) }),
      serve(this.#bus, { subject: kmeSubjects.encKeys, parse: parseEncKeysRequest, handle: (r) => this.#audited('enc_keys', r.caller, () => this.encKeys(r.caller, r.data)) }),
      serve(this.#bus, { subject: kmeSubjects.decKeys, parse: parseDecKeysRequest, handle: (r) => this.#audited('dec_keys', r.caller, () => this.decKeys(r.caller, r.data)) }),
      serve(this.#bus, { subject: kmeSubjects.poolLevel, parse: parsePoolLevelRequest, handle: (r) => this.poolLevel(r.data.link_id) }),
      serve(this.#bus, {
        subject: kmeSubjects.links,
        parse: () => undefined,
        handle: async () => [...this.#topology.links.values()].map((l) => ({ link_id: l.id, rate_bps: l.rateBps, kme_ids: l.kmeIds })),
      }),
      serve(this.#bus, { subject: kmeSubjects.topology, parse: () => undefined, handle: async (r) => this.topologyView(r.caller) }),
      serve(this.#bus, {
        subject: kmeSubjects.applyTopology,
        parse: parseTopologyDeclaration,
        handle: (r) => this.administer(r.caller, permissions.kmeAdmin, (actor) => changeTopology(this.#bus, { kind: 'declare', declaration: r.data }, actor)),
      }),
      serve(this.#bus, {
        subject: kmeSubjects.removeSae,
        parse: parseRemoveSaeRequest,
        handle: (r) => this.administer(r.caller, permissions.kmeAdmin, (actor) => changeTopology(this.#bus, { kind: 'remove_sae', saeId: r.data.sae_id }, actor)),
      }),
    );
  }

  async stop(): Promise<void> {
    for (const s of this.#served) await s.stop();
    await this.#supply.stop();
    await this.#topologyFollowing?.stop();
  }

  /** The topology as it stands, for a platform administrator. */
  async topologyView(caller: Caller | undefined): Promise<TopologyDeclaration> {
    this.#platformAdministrator(caller, permissions.kmeRead);
    return declarationOf(this.#topology);
  }

  /**
   * A topology change by a platform administrator (the edge checked the permission; the worker checks the tenant
   * again, since the KMEs serve every tenant). The change is an event on KEY_REQUEST with the administrator as actor,
   * so the audit trail names who changed what; the reply waits for this worker's own view to include it.
   */
  async administer(caller: Caller | undefined, permission: string, change: (actor: Caller['actor']) => Promise<TopologyApplied>): Promise<TopologyApplied> {
    const actor = this.#platformAdministrator(caller, permission);
    const applied = await change(actor);
    if (applied.changes > 0) await this.topologyReaches(applied.seq);
    this.#logger.info({ actor: actor.id, changes: applied.changes, seq: applied.seq, category: 'administration' }, 'KME topology changed');
    return applied;
  }

  #platformAdministrator(caller: Caller | undefined, permission: string): Caller['actor'] {
    if (!caller || caller.tenant !== platformTenant || (caller.actor.kind !== 'user' && caller.actor.kind !== 'api_key')) throw new ForbiddenError(permission);
    return caller.actor;
  }

  /** Waits until this worker's topology view includes an append (after configuring it). */
  async topologyReaches(seq: number): Promise<void> {
    await this.#topologyFollowing?.reach(seq);
  }

  /** The calling SAE, as the certificate identified it, checked against the topology (and its pin). */
  #identify(caller: Caller | undefined): Sae {
    if (!caller || caller.actor.kind !== 'sae') throw new KmeUnauthorizedError('the caller is not an SAE');
    const sae = this.#topology.saes.get(caller.actor.id);
    if (!sae) throw new KmeUnauthorizedError('the SAE is not registered with this KME');
    if (sae.certificateSha256 && sae.certificateSha256 !== caller.certificateSha256) throw new KmeUnauthorizedError('the SAE certificate is not the one registered');
    return sae;
  }

  #linkFor(master: Sae, slaveId: string): { slave: Sae; link: Link } {
    const slave = this.#topology.saes.get(slaveId);
    if (!slave) throw new KmeBadRequestError(`slave SAE ${slaveId} is not known`);
    const link = linkBetween(this.#topology, master.kmeId, slave.kmeId);
    if (!link) throw new KmeBadRequestError(`no QKD link joins KME ${master.kmeId} and KME ${slave.kmeId}`);
    return { slave, link };
  }

  async #poolHead(linkId: string, reload = false): Promise<PoolHead> {
    const cached = this.#heads.get(linkId);
    if (cached && !reload) return cached;
    const last = await this.#bus.jsm.streams.getMessage(this.#bus.names.stream(StreamName.KeyRequest), { last_by_subj: this.#bus.names.subject(`keyreq.${linkId}.pool`) });
    let head: PoolHead = { seq: 0, cursor: undefined };
    if (last) {
      const event: unknown = last.json();
      if (!KeysAllocated.is(event)) throw new Error(`keyreq.${linkId}.pool holds an unexpected event`);
      head = { seq: last.seq, cursor: { blockSeq: event.data.next.block_seq, offset: event.data.next.offset } };
    }
    this.#heads.set(linkId, head);
    return head;
  }

  /** How much unallocated material a link holds against its capacity (max_key_count keys of key_size). */
  async poolLevel(linkId: string): Promise<PoolLevel> {
    const link = this.#topology.links.get(linkId);
    if (!link) throw new KmeBadRequestError(`no link ${linkId}`);
    const head = await this.#poolHead(link.id, true);
    return {
      link_id: link.id,
      available_bytes: availableBytes(this.#supply.blocks(link.id), head.cursor),
      capacity_bytes: (link.limits.max_key_count * link.limits.key_size) / 8,
      rate_bps: link.rateBps,
    };
  }

  async status(caller: Caller | undefined, data: StatusRequest): Promise<Status> {
    const master = this.#identify(caller);
    const { slave, link } = this.#linkFor(master, data.slave_SAE_ID);
    const head = await this.#poolHead(link.id, true);
    return {
      source_KME_ID: master.kmeId,
      target_KME_ID: slave.kmeId === master.kmeId ? targetKme(link, master.kmeId) : slave.kmeId,
      master_SAE_ID: master.id,
      slave_SAE_ID: slave.id,
      key_size: link.limits.key_size,
      stored_key_count: storedKeyCount(link, this.#supply.blocks(link.id), head.cursor),
      max_key_count: link.limits.max_key_count,
      max_key_per_request: link.limits.max_key_per_request,
      max_key_size: link.limits.max_key_size,
      min_key_size: link.limits.min_key_size,
      max_SAE_ID_count: link.limits.max_SAE_ID_count,
    };
  }

  async encKeys(caller: Caller | undefined, data: EncKeysRequest): Promise<SealedKeyContainer> {
    const master = this.#identify(caller);
    const { slave, link } = this.#linkFor(master, data.slave_SAE_ID);
    const checked = checkKeyRequest(link, {
      master: master.id,
      slave: slave.id,
      ...(data.number !== undefined ? { number: data.number } : {}),
      ...(data.size !== undefined ? { size: data.size } : {}),
      ...(data.additional_slave_SAE_IDs ? { additional: data.additional_slave_SAE_IDs } : {}),
      ...(data.extension_mandatory ? { extensionMandatory: data.extension_mandatory } : {}),
    });
    // Multicast shares one link's material: every slave must be at the far end of it.
    for (const extra of data.additional_slave_SAE_IDs ?? []) {
      const sae = this.#topology.saes.get(extra);
      if (!sae) throw new KmeBadRequestError(`additional slave SAE ${extra} is not known`);
      if (sae.kmeId !== slave.kmeId) throw new KmeBadRequestError(`additional slave SAE ${extra} is not attached to KME ${slave.kmeId}`);
    }
    const delivery = await this.#allocate(link, {
      requestId: newRequestId(),
      kmeId: master.kmeId,
      master: master.id,
      slaves: checked.slaves,
      number: checked.number,
      bits: checked.bits,
      expiresAt: new Date(Date.now() + this.#ttlMs).toISOString(),
    });
    await append(this.#bus, requestSubject(link.id, delivery.request_id), createEvent(KeysDelivered, delivery, { actor: { kind: 'sae', id: master.id } }));
    const container = this.#seal(await this.#cut(delivery, Array.from({ length: delivery.key_count }, (_, i) => i)));
    await this.#auditGranted('enc_keys', master.id, link, delivery, container.keys.map((k) => k.key_ID));
    return container;
  }

  /** Queues a command for its link's next group commit and resolves with its allocation. */
  #allocate(link: Link, command: EncKeysCommand): Promise<AllocationData> {
    return new Promise((resolve, reject) => {
      const queue = this.#pending.get(link.id) ?? [];
      queue.push({ command, resolve, reject });
      this.#pending.set(link.id, queue);
      if (!this.#draining.has(link.id)) void this.#drain(link);
    });
  }

  /**
   * Group commit: while one allocation event is being stored, the requests that arrive wait and are then decided
   * together in the next event. One link's material is thus decided one event at a time by this process, and
   * across processes by the expected sequence of the pool subject.
   */
  async #drain(link: Link): Promise<void> {
    this.#draining.add(link.id);
    try {
      for (;;) {
        const queue = this.#pending.get(link.id) ?? [];
        if (queue.length === 0) break;
        const batch = queue.splice(0, maxAllocationsPerEvent);
        try {
          await this.#commit(link, batch);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.#draining.delete(link.id);
      this.#pending.delete(link.id);
    }
  }

  async #commit(link: Link, batch: readonly PendingAllocation[]): Promise<void> {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const head = await this.#poolHead(link.id, attempt > 1);
      let decision = decideAllocations(batch.map((p) => p.command), this.#supply.blocks(link.id), head.cursor);
      if (decision.refused.size > 0 && !refreshed) {
        // The view may be a moment behind the simulator: look once more before saying "unavailable".
        refreshed = true;
        await this.#supply.refresh(link.id).catch(() => {});
        decision = decideAllocations(batch.map((p) => p.command), this.#supply.blocks(link.id), head.cursor);
      }
      if (decision.draft) {
        const event = createEvent(KeysAllocated, decision.draft.data, { actor: { kind: 'service', id: 'kme' } });
        try {
          const appended = await append(this.#bus, `keyreq.${link.id}.pool`, event, { expectedLastSubjectSequence: head.seq });
          const next = decision.draft.data.next;
          this.#heads.set(link.id, { seq: appended.seq, cursor: { blockSeq: next.block_seq, offset: next.offset } });
          this.#supply.prune(link.id, next.block_seq);
        } catch (err) {
          if (err instanceof ConcurrencyError && attempt < 50) continue;
          throw err;
        }
      }
      const byId = new Map((decision.draft?.data.allocations ?? []).map((a) => [a.request_id, a]));
      for (const p of batch) {
        const allocation = byId.get(p.command.requestId);
        if (allocation) p.resolve(allocation);
        else p.reject(decision.refused.get(p.command.requestId) ?? new KmeUnavailableError('keys are not available'));
      }
      return;
    }
  }

  async decKeys(caller: Caller | undefined, data: DecKeysRequest): Promise<SealedKeyContainer> {
    const slave = this.#identify(caller);
    const master = this.#topology.saes.get(data.master_SAE_ID);
    if (!master) throw new KmeBadRequestError(etsiMessages.keysNotFound);
    const link = linkBetween(this.#topology, master.kmeId, slave.kmeId);
    if (!link) throw new KmeBadRequestError(etsiMessages.keysNotFound);
    const groups = new Map<string, number[]>();
    for (const keyId of data.key_IDs) {
      const { requestId, index } = requestIdOf(keyId);
      const list = groups.get(requestId) ?? [];
      if (list.includes(index)) throw new KmeBadRequestError('key_IDs shall not repeat a key_ID');
      list.push(index);
      groups.set(requestId, list);
    }
    const keys: { key_ID: string; material: Buffer }[] = [];
    const deliveries: Delivery[] = [];
    for (const [requestId, indexes] of groups) {
      const result = await handleCommand(this.#bus, {
        subject: requestSubject(link.id, requestId),
        decider: keyRequestDecider,
        command: { kind: 'retrieve', master: master.id, slave: slave.id, indexes },
        meta: { actor: { kind: 'sae', id: slave.id } },
      });
      const delivery = result.state.delivered;
      if (!delivery) throw new KmeBadRequestError(etsiMessages.keysNotFound);
      deliveries.push(delivery);
      keys.push(...(await this.#cut(delivery, indexes)));
    }
    for (const d of deliveries) {
      await this.#auditGranted('dec_keys', slave.id, link, d, keys.flatMap((k) => (requestIdOf(k.key_ID).requestId === d.request_id ? [k.key_ID] : [])));
    }
    // Keys come back in the order they were asked for.
    const order = new Map(data.key_IDs.map((id, i) => [id.toLowerCase(), i]));
    keys.sort((a, b) => (order.get(a.key_ID) ?? 0) - (order.get(b.key_ID) ?? 0));
    return this.#seal(keys);
  }

  /** Opens the blocks a delivery draws on and cuts the asked keys (the caller seals and zeroes them). */
  async #cut(delivery: Delivery, indexes: readonly number[]): Promise<{ key_ID: string; material: Buffer }[]> {
    const blocks = await this.#blocks.open(delivery.ranges.map((r) => r.block_seq));
    try {
      return indexes.map((i) => ({
        key_ID: keyIdOf(delivery.request_id, i),
        material: keyMaterial(delivery.ranges, delivery.key_bits, i, (seq) => {
          const b = blocks.get(seq);
          if (!b) throw new Error(`block ${seq} missing`);
          return b;
        }),
      }));
    } finally {
      for (const b of blocks.values()) b.fill(0);
    }
  }

  /** Seals keys for the edge in one container and zeroes the clear copies. */
  #seal(keys: readonly { key_ID: string; material: Buffer }[]): SealedKeyContainer {
    try {
      return sealForEdge(this.#ring, keys);
    } finally {
      for (const k of keys) k.material.fill(0);
    }
  }

  async #auditGranted(operation: 'enc_keys' | 'dec_keys', saeId: string, link: Link, delivery: Delivery, keyIds: readonly string[]): Promise<void> {
    const event = createEvent(
      KeyAccessGranted,
      {
        category: 'key_access',
        severity: 'info',
        operation,
        kme_id: this.#topology.saes.get(saeId)?.kmeId ?? delivery.kme_id,
        link_id: link.id,
        sae_id: saeId,
        master_SAE_ID: delivery.master_SAE_ID,
        slave_SAE_IDs: delivery.slave_SAE_IDs,
        key_IDs: [...keyIds],
        key_bits: delivery.key_bits,
      },
      { actor: { kind: 'sae', id: saeId } },
    );
    await append(this.#bus, 'audit._platform.key_access', event);
  }

  /** Runs an operation; a refusal is reported on AUDIT (never with key bytes) before it reaches the caller. */
  async #audited<T>(operation: 'status' | 'enc_keys' | 'dec_keys', caller: Caller | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isVigilError(err) && err.statusCode >= 400) {
        const event = createEvent(
          KeyAccessRefused,
          { category: 'key_access', severity: err.statusCode === 401 ? 'warning' : 'notice', operation, sae_id: caller?.actor.id ?? 'unknown', status: err.statusCode, message: err.message.slice(0, 500) },
          { actor: caller?.actor ?? { kind: 'system', id: 'kme' } },
        );
        await append(this.#bus, 'audit._platform.key_access', event).catch((e: unknown) => this.#logger.error({ err: e }, 'could not audit a refusal'));
      }
      throw err;
    }
  }
}
