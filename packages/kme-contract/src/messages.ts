import Type, { type Static } from 'typebox';

/** Bus subjects between the edge (ETSI GS QKD 014 routes) and the KME workers. */
export const kmeSubjects = {
  status: 'qry.kme.status',
  encKeys: 'cmd.kme.enc_keys',
  /** Several small enc_keys requests in one bus message (the edge gathers those that arrive together). */
  encKeysBatch: 'cmd.kme.enc_keys_batch',
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

/** The SAE a request comes from, as the edge's mutual TLS identified it (the bus Caller of an SAE). */
export const SaeCaller = Type.Object(
  {
    actor: Type.Object({ kind: Type.Literal('sae'), id: SaeId }, { additionalProperties: false }),
    certificateSha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  { additionalProperties: false },
);
export type SaeCaller = Static<typeof SaeCaller>;

/**
 * enc_keys requests of several SAEs, gathered by an edge from those that arrived together, so that one bus round
 * trip serves them all. Each is decided, audited and answered exactly as if it had come alone; its data is checked
 * on its own, so a bad one is answered alone.
 */
export const EncKeysBatch = Type.Object(
  {
    requests: Type.Array(
      Type.Object({ caller: SaeCaller, correlation_id: Type.String({ minLength: 1, maxLength: 200 }), data: Type.Unknown() }, { additionalProperties: false }),
      { minItems: 1, maxItems: 64 },
    ),
  },
  { additionalProperties: false },
);
export type EncKeysBatch = Static<typeof EncKeysBatch>;

/**
 * The answer to each request of a batch, in order: its keys, its error (a declared error, as the bus carries it),
 * or `alone` when its keys would make the batch's answer too large for one bus message (the edge then sends it on
 * its own; nothing was allocated for it).
 */
export const EncKeysOutcome = Type.Union([
  Type.Object({ keys: SealedKeyContainer }, { additionalProperties: false }),
  Type.Object(
    { error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Array(Type.Unknown())) }, { additionalProperties: false }) },
    { additionalProperties: false },
  ),
  Type.Object({ alone: Type.Literal(true) }, { additionalProperties: false }),
]);
export type EncKeysOutcome = Static<typeof EncKeysOutcome>;

export const EncKeysBatchReply = Type.Object({ results: Type.Array(EncKeysOutcome, { maxItems: 64 }) }, { additionalProperties: false });
export type EncKeysBatchReply = Static<typeof EncKeysBatchReply>;

/**
 * An upper bound of the JSON size of a key container of `number` keys of `bits`: key_ID and size per key, the
 * material sealed (nonce and tag) in base64. What lets a KME keep a batch's answer within one bus message.
 */
export function containerBytesBound(number: number, bits: number): number {
  return 200 + number * 64 + Math.ceil(((number * bits) / 8 + 64) / 3) * 4;
}
