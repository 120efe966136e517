import { readFile } from 'node:fs/promises';
import { handleCommand, type Bus, type Decider } from '@vigil/bus';
import { KmeBadRequestError } from '@vigil/kme-contract';
import { LinkLimits } from '@vigil/schemas';
import Type from 'typebox';
import Compile from 'typebox/compile';
import {
  decideTopology,
  emptyTopology,
  evolveTopology,
  topologyEvents,
  topologySubject,
  type Topology,
  type TopologyDeclaration,
  type TopologyEvent,
} from './topology.ts';

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._~:@+-]+$' });

/** The topology file an operator writes (see deploy/kme/topology.example.json). */
const TopologyFile = Type.Object(
  {
    kmes: Type.Array(Type.Object({ id: Id }, { additionalProperties: false })),
    saes: Type.Array(Type.Object({ id: Id, kme: Id, certificate_sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })) }, { additionalProperties: false })),
    links: Type.Array(
      Type.Object(
        { id: Id, kmes: Type.Tuple([Id, Id]), rate_bps: Type.Integer({ minimum: 1 }), limits: LinkLimits },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
const topologyFile = Compile(TopologyFile);

export function parseTopology(value: unknown, source: string): TopologyDeclaration {
  if (topologyFile.Check(value)) return value;
  const problems = topologyFile.Errors(value).map((e) => `${e.instancePath || '/'} ${e.message}`);
  throw new KmeBadRequestError(`${source}: ${problems.slice(0, 5).join('; ')}`);
}

export const topologyDecider: Decider<TopologyDeclaration, Topology, TopologyEvent> = {
  events: topologyEvents,
  initialState: () => emptyTopology,
  evolve: evolveTopology,
  decide: decideTopology,
};

/** Applies a declaration as events (only what differs); returns the sequence to wait for in views. */
export async function applyTopology(bus: Bus, declaration: TopologyDeclaration): Promise<{ seq: number; changes: number }> {
  const result = await handleCommand(bus, {
    subject: topologySubject,
    decider: topologyDecider,
    command: declaration,
    meta: { actor: { kind: 'system', id: 'kme-topology' } },
  });
  return { seq: result.seq, changes: result.appended.length };
}

export async function applyTopologyFile(bus: Bus, path: string): Promise<{ seq: number; changes: number }> {
  const value: unknown = JSON.parse(await readFile(path, 'utf8'));
  return applyTopology(bus, parseTopology(value, path));
}
