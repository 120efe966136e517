import { LinkLimits } from '@vigil/schemas';
import Type, { type Static } from 'typebox';
import { SaeId } from './messages.ts';

const Id = SaeId;

/**
 * The KMEs, SAEs and QKD links of a deployment, declared whole: the topology file read at first start, the body of
 * `PUT /kme/topology`, and what `GET /kme/topology` answers. Applying a declaration changes only what differs; SAEs
 * not named are left alone (removing one is its own request).
 */
export const TopologyDeclaration = Type.Object(
  {
    kmes: Type.Array(Type.Object({ id: Id }, { additionalProperties: false }), { maxItems: 1000 }),
    saes: Type.Array(
      Type.Object(
        {
          id: Id,
          kme: Id,
          certificate_sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'Only the certificate with this SHA-256 fingerprint identifies the SAE.' })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 10_000 },
    ),
    links: Type.Array(
      Type.Object(
        { id: Id, kmes: Type.Tuple([Id, Id]), rate_bps: Type.Integer({ minimum: 1, description: 'Secret key rate of the link, bits per second.' }), limits: LinkLimits },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);
export type TopologyDeclaration = Static<typeof TopologyDeclaration>;

export const TopologyApplied = Type.Object(
  { seq: Type.Integer({ minimum: 0, description: 'KEY_REQUEST sequence of the last change (or of the topology as it stood).' }), changes: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type TopologyApplied = Static<typeof TopologyApplied>;

export const RemoveSaeRequest = Type.Object({ sae_id: Id }, { additionalProperties: false });
export type RemoveSaeRequest = Static<typeof RemoveSaeRequest>;
