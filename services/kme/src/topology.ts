import type { EventDraft } from '@vigil/bus';
import { KmeBadRequestError, type TopologyDeclaration } from '@vigil/kme-contract';
import { KmeConfigured, LinkConfigured, SaeConfigured, SaeRemoved, type DataOf, type EventOf } from '@vigil/schemas';

/** The subject every topology event lives on: one aggregate, so a change is decided against the whole. */
export const topologySubject = 'keyreq._topology';

export const topologyEvents = [KmeConfigured, SaeConfigured, SaeRemoved, LinkConfigured] as const;
export type TopologyEvent = EventOf<(typeof topologyEvents)[number]>;

export type LinkLimits = DataOf<typeof LinkConfigured>['limits'];

export interface Link {
  readonly id: string;
  readonly kmeIds: readonly [string, string];
  readonly limits: LinkLimits;
  readonly rateBps: number;
}

export interface Sae {
  readonly id: string;
  readonly kmeId: string;
  readonly certificateSha256?: string;
}

export interface Topology {
  readonly kmes: ReadonlySet<string>;
  readonly saes: ReadonlyMap<string, Sae>;
  readonly links: ReadonlyMap<string, Link>;
}

export const emptyTopology: Topology = { kmes: new Set(), saes: new Map(), links: new Map() };

export function evolveTopology(state: Topology, event: TopologyEvent): Topology {
  switch (event.type) {
    case 'kme.topology.kme_configured':
      return { ...state, kmes: new Set([...state.kmes, event.data.kme_id]) };
    case 'kme.topology.sae_configured': {
      const saes = new Map(state.saes);
      const { sae_id, kme_id, certificate_sha256 } = event.data;
      saes.set(sae_id, { id: sae_id, kmeId: kme_id, ...(certificate_sha256 ? { certificateSha256: certificate_sha256 } : {}) });
      return { ...state, saes };
    }
    case 'kme.topology.sae_removed': {
      const saes = new Map(state.saes);
      saes.delete(event.data.sae_id);
      return { ...state, saes };
    }
    case 'kme.topology.link_configured': {
      const links = new Map(state.links);
      const [a, b] = event.data.kme_ids;
      if (a === undefined || b === undefined) return state;
      links.set(event.data.link_id, { id: event.data.link_id, kmeIds: [a, b], limits: event.data.limits, rateBps: event.data.rate_bps });
      return { ...state, links };
    }
  }
}

/** What an operator asks: bring the topology to a declaration (file or admin API), or remove one SAE. */
export type TopologyCommand = { readonly kind: 'declare'; readonly declaration: TopologyDeclaration } | { readonly kind: 'remove_sae'; readonly saeId: string };

type TopologyDraft = EventDraft<TopologyEvent['type'], 1, TopologyEvent['data']>;

const limitNames = ['key_size', 'min_key_size', 'max_key_size', 'max_key_per_request', 'max_key_count', 'max_SAE_ID_count'] as const;

function sameLimits(a: LinkLimits, b: LinkLimits): boolean {
  return limitNames.every((k) => a[k] === b[k]);
}

function checkLimits(linkId: string, l: LinkLimits): void {
  const problems: string[] = [];
  if (l.min_key_size > l.max_key_size) problems.push('min_key_size exceeds max_key_size');
  if (l.key_size < l.min_key_size || l.key_size > l.max_key_size) problems.push('key_size is outside min_key_size..max_key_size');
  for (const k of ['key_size', 'min_key_size', 'max_key_size'] as const) if (l[k] % 8 !== 0) problems.push(`${k} is not a multiple of 8`);
  if (l.max_key_per_request > 65_536) problems.push('max_key_per_request exceeds 65536');
  if (problems.length > 0) throw new KmeBadRequestError(`link ${linkId}: ${problems.join('; ')}`);
}

/** The topology as a declaration: what `GET /kme/topology` answers, and what applying it again leaves unchanged. */
export function declarationOf(state: Topology): TopologyDeclaration {
  return {
    kmes: [...state.kmes].map((id) => ({ id })),
    saes: [...state.saes.values()].map((s) => ({ id: s.id, kme: s.kmeId, ...(s.certificateSha256 ? { certificate_sha256: s.certificateSha256 } : {}) })),
    links: [...state.links.values()].map((l) => ({ id: l.id, kmes: [l.kmeIds[0], l.kmeIds[1]], rate_bps: l.rateBps, limits: l.limits })),
  };
}

/**
 * Brings the topology to a declaration (or removes an SAE): only what differs becomes an event, so applying the same file at every
 * start changes nothing. SAEs not declared are left alone (removing is an explicit act).
 */
export function decideTopology(command: TopologyCommand, state: Topology): TopologyDraft[] {
  if (command.kind === 'remove_sae') {
    if (!state.saes.has(command.saeId)) throw new KmeBadRequestError(`SAE ${command.saeId} is not known`);
    return [{ type: 'kme.topology.sae_removed', v: 1, data: { sae_id: command.saeId } }];
  }
  const { declaration } = command;
  const drafts: TopologyDraft[] = [];
  const kmes = new Set(state.kmes);
  for (const k of declaration.kmes) {
    if (!kmes.has(k.id)) drafts.push({ type: 'kme.topology.kme_configured', v: 1, data: { kme_id: k.id } });
    kmes.add(k.id);
  }
  for (const s of declaration.saes) {
    if (!kmes.has(s.kme)) throw new KmeBadRequestError(`SAE ${s.id}: unknown KME ${s.kme}`);
    const current = state.saes.get(s.id);
    if (current && current.kmeId === s.kme && current.certificateSha256 === s.certificate_sha256) continue;
    drafts.push({ type: 'kme.topology.sae_configured', v: 1, data: { sae_id: s.id, kme_id: s.kme, ...(s.certificate_sha256 ? { certificate_sha256: s.certificate_sha256 } : {}) } });
  }
  const pairs = new Map<string, string>();
  for (const link of state.links.values()) pairs.set([...link.kmeIds].sort().join('|'), link.id);
  for (const l of declaration.links) {
    const [a, b] = l.kmes;
    if (!kmes.has(a) || !kmes.has(b)) throw new KmeBadRequestError(`link ${l.id}: unknown KME`);
    if (a === b) throw new KmeBadRequestError(`link ${l.id}: a link joins two different KMEs`);
    const pair = [a, b].sort().join('|');
    const holder = pairs.get(pair);
    if (holder !== undefined && holder !== l.id) throw new KmeBadRequestError(`link ${l.id}: KMEs ${a} and ${b} are joined by link ${holder} already`);
    pairs.set(pair, l.id);
    checkLimits(l.id, l.limits);
    const current = state.links.get(l.id);
    if (current && current.kmeIds[0] === a && current.kmeIds[1] === b && current.rateBps === l.rate_bps && sameLimits(current.limits, l.limits)) continue;
    drafts.push({ type: 'kme.topology.link_configured', v: 1, data: { link_id: l.id, kme_ids: [a, b], limits: l.limits, rate_bps: l.rate_bps } });
  }
  return drafts;
}

/** The link between the KMEs of two SAEs, if any. */
export function linkBetween(topology: Topology, kmeA: string, kmeB: string): Link | undefined {
  for (const link of topology.links.values()) {
    const [x, y] = link.kmeIds;
    if ((x === kmeA && y === kmeB) || (x === kmeB && y === kmeA)) return link;
  }
  return undefined;
}

/** The other end of a link, seen from one KME. */
export function targetKme(link: Link, sourceKme: string): string {
  return link.kmeIds[0] === sourceKme ? link.kmeIds[1] : link.kmeIds[0];
}
