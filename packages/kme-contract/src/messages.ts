import Type, { type Static } from 'typebox';

/** Bus subjects between the edge (ETSI GS QKD 014 routes) and the KME workers. */
export const kmeSubjects = {
  status: 'qry.kme.status',
  encKeys: 'cmd.kme.enc_keys',
  decKeys: 'cmd.kme.dec_keys',
  /** Internal: the QKD link simulator asks how full a pool is. */
  poolLevel: 'qry.kme.pool_level',
  /** Internal: the links of the topology, for the simulator. */
  links: 'qry.kme.links',
  /** Administration (platform administrators, through the edge): the topology as events on KEY_REQUEST. */
  topology: 'qry.kme.topology',
  applyTopology: 'cmd.kme.apply_topology',
  removeSae: 'cmd.kme.remove_sae',
} as const;

/** An SAE or KME id as it may appear in a URL path segment and a subject-safe projection. */
export const SaeId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._~:@+-]+$' });
export const KeyId = Type.String({ format: 'uuid' });

/** ETSI Table 10 extension parameters: objects of name/value pairs. */
const Extension = Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 32 });

/**
 * ETSI Table 10 (Key request), as the edge forwards it after checking types. The master SAE is not in here: it is
 * the caller, from its certificate.
 */
export const EncKeysRequest = Type.Object(
  {
    slave_SAE_ID: SaeId,
    number: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
    additional_slave_SAE_IDs: Type.Optional(Type.Array(SaeId, { maxItems: 64 })),
    extension_mandatory: Type.Optional(Extension),
    extension_optional: Type.Optional(Extension),
  },
  { additionalProperties: false },
);
export type EncKeysRequest = Static<typeof EncKeysRequest>;

/** ETSI Table 12 (Key IDs) with the master SAE of the URL. */
export const DecKeysRequest = Type.Object(
  {
    master_SAE_ID: SaeId,
    key_IDs: Type.Array(KeyId, { minItems: 1, maxItems: 100_000 }),
  },
  { additionalProperties: false },
);
export type DecKeysRequest = Static<typeof DecKeysRequest>;

export const StatusRequest = Type.Object({ slave_SAE_ID: SaeId }, { additionalProperties: false });
export type StatusRequest = Static<typeof StatusRequest>;

/** ETSI Table 9. Sizes in bits. */
export const Status = Type.Object(
  {
    source_KME_ID: Type.String(),
    target_KME_ID: Type.String(),
    master_SAE_ID: Type.String(),
    slave_SAE_ID: Type.String(),
    key_size: Type.Integer(),
    stored_key_count: Type.Integer(),
    max_key_count: Type.Integer(),
    max_key_per_request: Type.Integer(),
    max_key_size: Type.Integer(),
    min_key_size: Type.Integer(),
    max_SAE_ID_count: Type.Integer(),
    status_extension: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type Status = Static<typeof Status>;

/**
 * Keys as they cross the bus from a KME worker to the edge: their material sealed together (AES-256-GCM under the
 * KME's KEK, bound to their key_IDs in order), so key material never travels in clear and a reply costs one
 * cipher operation however many keys it holds; the edge opens it to answer the SAE.
 */
export const SealedKeyContainer = Type.Object(
  {
    keys: Type.Array(Type.Object({ key_ID: KeyId, bytes: Type.Integer({ minimum: 1, maximum: 131_072 }) }, { additionalProperties: false }), { maxItems: 65_536 }),
    kek_id: Type.String(),
    /** nonce ‖ ciphertext ‖ tag, base64: the keys' material joined in the order of `keys`. */
    sealed: Type.String({ contentEncoding: 'base64' }),
  },
  { additionalProperties: false },
);
export type SealedKeyContainer = Static<typeof SealedKeyContainer>;
