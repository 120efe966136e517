import { readFile } from 'node:fs/promises';
import { handleCommand, type Bus, type Decider } from '@vigil/bus';
import type { Actor } from '@vigil/schemas';
import { KmeBadRequestError, parseTopologyDeclaration, type TopologyDeclaration } from '@vigil/kme-contract';
import { decideTopology, emptyTopology, evolveTopology, topologyEvents, topologySubject, type Topology, type TopologyCommand, type TopologyEvent } from './topology.ts';

/** Reads a topology file's content (see deploy/kme/topology.example.json); problems name the file. */
export function parseTopology(value: unknown, source: string): TopologyDeclaration {
  try {
    return parseTopologyDeclaration(value);
  } catch (err) {
    throw new KmeBadRequestError(`${source}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const topologyDecider: Decider<TopologyCommand, Topology, TopologyEvent> = {
  events: topologyEvents,
  initialState: () => emptyTopology,
  evolve: evolveTopology,
  decide: decideTopology,
};

const topologyFileActor: Actor = { kind: 'system', id: 'kme-topology' };

/** Applies a command as events (only what differs); returns the sequence to wait for in views. */
export async function changeTopology(bus: Bus, command: TopologyCommand, actor: Actor = topologyFileActor): Promise<{ seq: number; changes: number }> {
  const result = await handleCommand(bus, { subject: topologySubject, decider: topologyDecider, command, meta: { actor } });
  return { seq: result.seq, changes: result.appended.length };
}

export async function applyTopology(bus: Bus, declaration: TopologyDeclaration, actor?: Actor): Promise<{ seq: number; changes: number }> {
  return changeTopology(bus, { kind: 'declare', declaration }, actor);
}

export async function applyTopologyFile(bus: Bus, path: string): Promise<{ seq: number; changes: number }> {
  const value: unknown = JSON.parse(await readFile(path, 'utf8'));
  return applyTopology(bus, parseTopology(value, path));
}
