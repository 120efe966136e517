import {
  append,
  ConcurrencyError,
  createEvent,
  envelope,
  foldEvents,
  followEvents,
  handleCommand,
  isEventOf,
  loadAggregate,
  isVigilError,
  serve,
  StreamAppender,
  type Bus,
  type Caller,
  type Following,
  type Served,
} from '@vigil/bus';
import { uuidv7, type KekRing } from '@vigil/crypto';
import {
  containerBytesBound,
  etsiMessages,
  KmeBadRequestError,
  KmeUnauthorizedError,
  KmeUnavailableError,
  kmeSubjects,
  parseDecKeysRequest,
  parseEncKeysBatch,
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
  type EncKeysBatch,
  type EncKeysBatchReply,
  type EncKeysOutcome,
  type EncKeysRequest,
  type SealedKeyContainer,
  type StatusRequest,
  type Status,
} from '@vigil/kme-contract';
import { ForbiddenError, permissions, platformTenant } from '@vigil/identity-contract';
import { currentContext, withContext, type Logger } from '@vigil/log';
import { KeyAccessGranted, KeyAccessRefused, KeysAllocated, StreamName, type AnyEnvelope } from '@vigil/schemas';
import { AllocationReader } from './allocation-reader.ts';
import { keyAccessRecords, type Handed } from './key-access-records.ts';
import { keyIdOf, requestIdFor, requestIdOf } from './key-ids.ts';
import { keyRequestDeciderFrom, requestEvents, requestSubject, type Delivery, type RequestEvent } from './key-request.ts';
import { availableBytes, checkKeyRequest, decideAllocations, keyMaterial, keysPerAnswer, poolSubject, storedKeyCount, type AllocationData, type Cursor, type EncKeysCommand } from './pool.ts';
import { BlockReader, SupplyView } from './supply.ts';
import { changeTopology } from './topology-file.ts';
import { declarationOf, emptyTopology, evolveTopology, linkBetween, targetKme, topologyEvents, topologySubject, type Link, type Sae, type Topology } from './topology.ts';

export interface KmeWorkerOptions {
  readonly bus: Bus;
  readonly ring: KekRing;
  readonly keyTtlSeconds: number;
  readonly logger: Logger;
}

/** An enc_keys request waiting for its link's next group commit; its request id is given when it is decided. */
interface PendingAllocation {
  readonly command: Omit<EncKeysCommand, 'requestId'>;
  /** The request's correlation id, for its audit record. */
  readonly correlationId: string;
  resolve(container: SealedKeyContainer): void;
  reject(err: unknown): void;
}

/** A request of a group commit and the allocation decided for it. */
interface Allocated {
  readonly pending: PendingAllocation;
  readonly allocation: AllocationData;
}

/** The most enc_keys requests one allocation event decides. */
const maxAllocationsPerEvent = 256;

const keyAccessSubject = 'audit._platform.key_access';

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
  /** Stream sequence of each link's configuration: the anchor of the link's first allocation. */
  readonly #linkConfiguredAt = new Map<string, number>();
  readonly #allocations: AllocationReader;
  /** Audit records: no expected sequence, so one subscription for every acknowledgement. */
  readonly #appender: StreamAppender;

  constructor(options: KmeWorkerOptions) {
    this.#bus = options.bus;
    this.#ring = options.ring;
    this.#ttlMs = options.keyTtlSeconds * 1000;
    this.#logger = options.logger;
    this.#supply = new SupplyView(options.bus);
    this.#blocks = new BlockReader(options.bus, options.ring);
    this.#allocations = new AllocationReader(options.bus);
    this.#appender = new StreamAppender(options.bus);
  }

  get topology(): Topology {
    return this.#topology;
  }

  async start(): Promise<void> {
    this.#topologyFollowing = await followEvents(this.#bus, topologySubject, ({ event, seq }) => {
      if (!isEventOf(topologyEvents, event)) return;
      this.#topology = evolveTopology(this.#topology, event);
      if (event.type === 'kme.topology.link_configured') this.#linkConfiguredAt.set(event.data.link_id, seq);
    });
    await this.#topologyFollowing.caughtUp;
    await this.#supply.start();
    this.#served.push(
      serve(this.#bus, { subject: kmeSubjects.status, parse: parseStatusRequest, handle: (r) => this.#audited('status', r.caller, () => this.status(r.caller, r.data)) }),
      serve(this.#bus, { subject: kmeSubjects.encKeys, parse: parseEncKeysRequest, handle: (r) => this.#audited('enc_keys', r.caller, () => this.encKeys(r.caller, r.data)) }),
      serve(this.#bus, { subject: kmeSubjects.encKeysBatch, parse: parseEncKeysBatch, handle: (r) => this.encKeysBatch(r.data) }),
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
    await this.#appender.close();
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
    const last = await this.#bus.jsm.streams.getMessage(this.#bus.names.stream(StreamName.KeyRequest), { last_by_subj: this.#bus.names.subject(poolSubject(linkId)) });
    let head: PoolHead = { seq: 0, cursor: undefined };
    if (last) {
      const event: unknown = last.json();
      if (!KeysAllocated.is(event)) throw new Error(`${poolSubject(linkId)} holds an unexpected event`);
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
    const { link, request } = this.#encKeysRequest(caller, data);
    return this.#allocate(link, request);
  }

  /**
   * enc_keys requests an edge gathered, each answered as if it came alone (its own correlation id, checks, group
   * commit, audit, refusal record), in one bus message. A request whose keys would not fit in the answer beside the
   * others' is answered `alone`, before anything is allocated for it.
   */
  async encKeysBatch(batch: EncKeysBatch): Promise<EncKeysBatchReply> {
    // Half of what the server takes in one message, for the answer's envelope and a margin.
    let room = (this.#bus.nc.info?.max_payload ?? 1024 * 1024) / 2;
    const results = await Promise.all(
      batch.requests.map((item) =>
        withContext({ correlationId: item.correlation_id }, async (): Promise<EncKeysOutcome> => {
          try {
            // Checked and sized synchronously, in order, so the room is shared out before any await.
            return await this.#audited('enc_keys', item.caller, () => {
              const { link, request } = this.#encKeysRequest(item.caller, parseEncKeysRequest(item.data));
              const bytes = containerBytesBound(request.command.number, request.command.bits);
              if (bytes > room) return Promise.resolve<EncKeysOutcome>({ alone: true });
              room -= bytes;
              return this.#allocate(link, request).then((keys) => ({ keys }));
            });
          } catch (err) {
            if (isVigilError(err)) return { error: { code: err.code, message: err.message, ...(err.details ? { details: [...err.details] } : {}) } };
            this.#logger.error({ err }, 'enc_keys of a batch failed');
            return { error: { code: 'VGL_INTERNAL', message: 'internal error' } };
          }
        }),
      ),
    );
    return { results };
  }

  /** An enc_keys request checked against the topology and the link's limits (ETSI 014 clause 6.2), ready to allocate. */
  #encKeysRequest(caller: Caller | undefined, data: EncKeysRequest): { link: Link; request: Pick<PendingAllocation, 'command' | 'correlationId'> } {
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
    // The keys travel back in one bus message: a request that could not fit is refused before it spends material.
    const most = keysPerAnswer(checked.bits, (this.#bus.nc.info?.max_payload ?? 1024 * 1024) - 16 * 1024);
    if (checked.number > most) throw new KmeBadRequestError(`number × size exceeds what one answer holds: ask for at most ${most} keys of ${checked.bits} bits`);
    // Multicast shares one link's material: every slave must be at the far end of it.
    for (const extra of data.additional_slave_SAE_IDs ?? []) {
      const sae = this.#topology.saes.get(extra);
      if (!sae) throw new KmeBadRequestError(`additional slave SAE ${extra} is not known`);
      if (sae.kmeId !== slave.kmeId) throw new KmeBadRequestError(`additional slave SAE ${extra} is not attached to KME ${slave.kmeId}`);
    }
    return {
      link,
      request: {
        command: { kmeId: master.kmeId, master: master.id, slaves: checked.slaves, number: checked.number, bits: checked.bits, expiresAt: new Date(Date.now() + this.#ttlMs).toISOString() },
        correlationId: currentContext()?.correlationId ?? uuidv7(),
      },
    };
  }

  /**
   * Queues a request for its link's next group commit; resolves with its keys once they are allocated, sealed for the
   * edge and audited.
   */
  #allocate(link: Link, request: Pick<PendingAllocation, 'command' | 'correlationId'>): Promise<SealedKeyContainer> {
    return new Promise((resolve, reject) => {
      const queue = this.#pending.get(link.id) ?? [];
      queue.push({ ...request, resolve, reject });
      this.#pending.set(link.id, queue);
      if (!this.#draining.has(link.id)) void this.#drain(link);
    });
  }

  /**
   * Group commit: while one allocation event is being stored, the requests that arrive wait and are then decided
   * together in the next event. One link's material is thus decided one event at a time by this process, and
   * across processes by the expected sequence of the pool subject. Cutting, sealing and auditing the keys of one
   * event overlaps with deciding the next.
   */
  async #drain(link: Link): Promise<void> {
    this.#draining.add(link.id);
    try {
      for (;;) {
        const queue = this.#pending.get(link.id) ?? [];
        if (queue.length === 0) break;
        const batch = queue.splice(0, maxAllocationsPerEvent);
        let allocated: Allocated[];
        try {
          allocated = await this.#commit(link, batch);
        } catch (err) {
          for (const p of batch) p.reject(err);
          continue;
        }
        void this.#deliver(link, allocated);
      }
    } finally {
      this.#draining.delete(link.id);
      this.#pending.delete(link.id);
    }
  }

  /**
   * Decides and stores one allocation event; refuses the requests the pool cannot serve. Each attempt names its
   * requests after the pool sequence it expects (see key-ids.ts), so a slave's key_ID leads to this event.
   */
  async #commit(link: Link, batch: readonly PendingAllocation[]): Promise<Allocated[]> {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const head = await this.#poolHead(link.id, attempt > 1);
      const anchor = head.seq > 0 ? head.seq : this.#linkConfiguredAt.get(link.id);
      if (anchor === undefined) throw new Error(`link ${link.id} has no configuration event`);
      const now = Date.now();
      const commands = batch.map((p, position) => ({ ...p.command, requestId: requestIdFor(anchor, position, now) }));
      let decision = decideAllocations(commands, this.#supply.blocks(link.id), head.cursor);
      if (decision.refused.size > 0 && !refreshed) {
        // The view may be a moment behind the simulator: look once more before saying "unavailable".
        refreshed = true;
        await this.#supply.refresh(link.id).catch(() => {});
        decision = decideAllocations(commands, this.#supply.blocks(link.id), head.cursor);
      }
      if (decision.draft) {
        // Validated once, by append.
        const event = envelope(decision.draft, { actor: { kind: 'service', id: 'kme' } });
        try {
          const appended = await append(this.#bus, poolSubject(link.id), event, { expectedLastSubjectSequence: head.seq });
          const next = decision.draft.data.next;
          this.#heads.set(link.id, { seq: appended.seq, cursor: { blockSeq: next.block_seq, offset: next.offset } });
          this.#supply.prune(link.id, next.block_seq);
          this.#allocations.remember(link.id, anchor, decision.draft.data.allocations);
        } catch (err) {
          if (err instanceof ConcurrencyError && attempt < 50) continue;
          throw err;
        }
      }
      const byId = new Map((decision.draft?.data.allocations ?? []).map((a) => [a.request_id, a]));
      const allocated: Allocated[] = [];
      batch.forEach((pending, position) => {
        const requestId = commands[position]?.requestId ?? '';
        const allocation = byId.get(requestId);
        if (allocation) allocated.push({ pending, allocation });
        else pending.reject(decision.refused.get(requestId) ?? new KmeUnavailableError('keys are not available'));
      });
      return allocated;
    }
  }

  /**
   * Hands the keys of one allocation event to their masters: each block opened once for all of them, each request's
   * keys sealed in its own container, the deliveries audited (never key bytes) — and only then answered.
   */
  async #deliver(link: Link, allocated: readonly Allocated[]): Promise<void> {
    if (allocated.length === 0) return;
    let sealed: (Allocated & { readonly container: SealedKeyContainer })[];
    try {
      // Each request's keys are sealed (and their clear copies zeroed) as soon as they are cut.
      sealed = await this.#withBlocks(
        allocated.map((a) => a.allocation),
        (cut) => allocated.map((a) => ({ ...a, container: this.#seal(cut(a.allocation, allIndexes(a.allocation.key_count))) })),
      );
      await this.#auditGranted(
        'enc_keys',
        link,
        sealed.map((s) => ({ saeId: s.allocation.master_SAE_ID, delivery: s.allocation, keyIds: s.container.keys.map((k) => k.key_ID), correlationId: s.pending.correlationId })),
      );
    } catch (err) {
      for (const a of allocated) a.pending.reject(err);
      return;
    }
    for (const s of sealed) s.pending.resolve(s.container);
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
    // Keys of several requests: every request must be retrievable before any is marked retrieved, or a refusal of a
    // later one would leave the earlier ones spent without their keys ever reaching the slave.
    if (groups.size > 1) {
      const isRequestEvent = (e: AnyEnvelope): e is RequestEvent => isEventOf(requestEvents, e);
      for (const [requestId, indexes] of groups) {
        const decider = keyRequestDeciderFrom(await this.#allocations.find(link.id, requestId));
        const loaded = await loadAggregate(this.#bus, requestSubject(link.id, requestId));
        decider.decide({ kind: 'retrieve', master: master.id, slave: slave.id, indexes }, foldEvents(decider, isRequestEvent, decider.initialState(), loaded.events));
      }
    }
    const retrieved: { delivery: Delivery; indexes: number[] }[] = [];
    for (const [requestId, indexes] of groups) {
      const result = await handleCommand(this.#bus, {
        subject: requestSubject(link.id, requestId),
        decider: keyRequestDeciderFrom(await this.#allocations.find(link.id, requestId)),
        command: { kind: 'retrieve', master: master.id, slave: slave.id, indexes },
        meta: { actor: { kind: 'sae', id: slave.id } },
      });
      const delivery = result.state.delivered;
      if (!delivery) throw new KmeBadRequestError(etsiMessages.keysNotFound);
      retrieved.push({ delivery, indexes });
    }
    const keys = await this.#withBlocks(
      retrieved.map((r) => r.delivery),
      (cut) => {
        const cutKeys: { key_ID: string; material: Buffer }[] = [];
        try {
          for (const r of retrieved) cutKeys.push(...cut(r.delivery, r.indexes));
          return cutKeys;
        } catch (err) {
          for (const k of cutKeys) k.material.fill(0);
          throw err;
        }
      },
    );
    try {
      const correlationId = currentContext()?.correlationId ?? uuidv7();
      await this.#auditGranted(
        'dec_keys',
        link,
        retrieved.map((r) => ({ saeId: slave.id, delivery: r.delivery, keyIds: r.indexes.map((i) => keyIdOf(r.delivery.request_id, i)), correlationId })),
      );
    } catch (err) {
      for (const k of keys) k.material.fill(0);
      throw err;
    }
    // Keys come back in the order they were asked for.
    const order = new Map(data.key_IDs.map((id, i) => [id.toLowerCase(), i]));
    keys.sort((a, b) => (order.get(a.key_ID) ?? 0) - (order.get(b.key_ID) ?? 0));
    return this.#seal(keys);
  }

  /**
   * Opens the blocks the deliveries draw on, each once, and runs `use` with what cuts keys from them (the caller
   * seals and zeroes the keys); the opened blocks are zeroed when `use` returns.
   */
  async #withBlocks<T>(deliveries: readonly Delivery[], use: (cut: (delivery: Delivery, indexes: readonly number[]) => { key_ID: string; material: Buffer }[]) => T): Promise<T> {
    const blocks = await this.#blocks.open(deliveries.flatMap((d) => d.ranges.map((r) => r.block_seq)));
    const blockAt = (seq: number) => {
      const b = blocks.get(seq);
      if (!b) throw new Error(`block ${seq} missing`);
      return b;
    };
    try {
      return use((delivery, indexes) => indexes.map((i) => ({ key_ID: keyIdOf(delivery.request_id, i), material: keyMaterial(delivery.ranges, delivery.key_bits, i, blockAt) })));
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

  /**
   * Records keys handed out on AUDIT: one record per SAE that got keys (its actor), listing each delivery with its
   * key_IDs, slaves and size; never key bytes. A group commit's deliveries share records, so auditing costs one
   * append per commit and SAE rather than one per request.
   */
  async #auditGranted(operation: 'enc_keys' | 'dec_keys', link: Link, handed: readonly Handed[]): Promise<void> {
    const appends: Promise<unknown>[] = [];
    for (const [saeId, records] of keyAccessRecords(handed)) {
      // The SAE's own KME (a slave's is the far end of the link).
      const kmeId = this.#topology.saes.get(saeId)?.kmeId ?? handed.find((h) => h.saeId === saeId)?.delivery.kme_id ?? 'unknown';
      for (const deliveries of records) {
        const first = deliveries[0];
        if (!first) continue;
        // Validated by createEvent; the appender sends it as it is.
        const event = createEvent(
          KeyAccessGranted,
          { category: 'key_access', severity: 'info', operation, kme_id: kmeId, link_id: link.id, sae_id: saeId, deliveries },
          { actor: { kind: 'sae', id: saeId }, correlationId: first.correlation_id },
        );
        appends.push(this.#appender.append(keyAccessSubject, event));
      }
    }
    await Promise.all(appends);
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
        await this.#appender.append(keyAccessSubject, event).catch((e: unknown) => this.#logger.error({ err: e }, 'could not audit a refusal'));
      }
      throw err;
    }
  }
}

function allIndexes(count: number): number[] {
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) indexes.push(i);
  return indexes;
}
