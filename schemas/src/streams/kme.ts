import Type from 'typebox';
import { defineEvent, type EventDefinition } from '../event-definition.ts';
import { StreamName } from '../stream-names.ts';
import { AuditSeverity } from './audit.ts';

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._~:@+-]+$' });
const Uuid = Type.String({ format: 'uuid' });
const Bits = Type.Integer({ minimum: 8, maximum: 1_048_576 });
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });

// Topology, on the single subject `keyreq._topology`: configured by events, never by editing tables.

export const KmeConfigured = defineEvent(StreamName.KeyRequest, 'kme.topology.kme_configured', 1, Type.Object({ kme_id: Id }, { additionalProperties: false }));

export const SaeConfigured = defineEvent(
  StreamName.KeyRequest,
  'kme.topology.sae_configured',
  1,
  Type.Object(
    {
      sae_id: Id,
      kme_id: Id,
      /** When set, only the certificate with this SHA-256 fingerprint identifies the SAE. */
      certificate_sha256: Type.Optional(Sha256Hex),
    },
    { additionalProperties: false },
  ),
);

export const SaeRemoved = defineEvent(StreamName.KeyRequest, 'kme.topology.sae_removed', 1, Type.Object({ sae_id: Id }, { additionalProperties: false }));

export const LinkLimits = Type.Object(
  {
    key_size: Bits,
    min_key_size: Bits,
    max_key_size: Bits,
    max_key_per_request: Type.Integer({ minimum: 1, maximum: 100_000 }),
    max_key_count: Type.Integer({ minimum: 1 }),
    max_SAE_ID_count: Type.Integer({ minimum: 0, maximum: 64 }),
  },
  { additionalProperties: false },
);

export const LinkConfigured = defineEvent(
  StreamName.KeyRequest,
  'kme.topology.link_configured',
  1,
  Type.Object(
    {
      link_id: Id,
      /** The two KMEs the QKD link joins. */
      kme_ids: Type.Array(Id, { minItems: 2, maxItems: 2 }),
      limits: LinkLimits,
      /** Secret key rate of the (simulated) link, bits per second. */
      rate_bps: Type.Integer({ minimum: 1 }),
    },
    { additionalProperties: false },
  ),
);

// Supply, on `keysupply.<link>`: material only ever sealed.

export const BlockAdded = defineEvent(
  StreamName.KeySupply,
  'kme.supply.block_added',
  1,
  Type.Object(
    {
      link_id: Id,
      block_id: Uuid,
      bytes: Type.Integer({ minimum: 1, maximum: 1_048_576 }),
      kek_id: Type.String({ minLength: 1 }),
      /** nonce ‖ AES-256-GCM ciphertext ‖ tag, base64; bound to block_id. */
      sealed: Type.String({ contentEncoding: 'base64' }),
    },
    { additionalProperties: false },
  ),
);

/** Where allocated material lies: `length` bytes from `offset` of the block stored at `block_seq` on KEY_SUPPLY. */
export const MaterialRange = Type.Object(
  { block_seq: Type.Integer({ minimum: 1 }), offset: Type.Integer({ minimum: 0 }), length: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

const allocation = {
  request_id: Uuid,
  kme_id: Id,
  master_SAE_ID: Id,
  slave_SAE_IDs: Type.Array(Id, { minItems: 1, maxItems: 65 }),
  key_count: Type.Integer({ minimum: 1, maximum: 65_536 }),
  key_bits: Bits,
  /** The material of the keys, in order: key i is bytes [i·key_bits/8, (i+1)·key_bits/8) of these ranges joined. */
  ranges: Type.Array(MaterialRange, { minItems: 1 }),
  expires_at: Type.String({ format: 'date-time' }),
};
export const Allocation = Type.Object(allocation, { additionalProperties: false });

/**
 * On `keyreq.<link>.pool`: the decision that serialises a link's material (expected last subject sequence). The
 * enc_keys requests that arrived while the previous decision was being stored are decided together (group
 * commit), each with its own ranges, in order. It is also the record of their delivery to their masters: a slave
 * retrieves from it, the request's key_IDs saying which pool event holds them.
 */
export const KeysAllocated = defineEvent(
  StreamName.KeyRequest,
  'kme.pool.keys_allocated',
  1,
  Type.Object(
    {
      allocations: Type.Array(Allocation, { minItems: 1, maxItems: 1024 }),
      /** The first material not yet allocated after these allocations. */
      next: Type.Object({ block_seq: Type.Integer({ minimum: 1 }), offset: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    },
    { additionalProperties: false },
  ),
);

// One request's keys, on `keyreq.<link>.req.<request_id>`: retrieved once per slave, or expired.

/**
 * A request's keys handed to its master (v1 of the delivery, written before the allocation event came to stand for
 * it; still read). Requests made since have no event of their own until a slave retrieves their keys: their key_IDs
 * lead to the allocation event that holds them (see services/kme key-ids).
 */
export const KeysDelivered = defineEvent(StreamName.KeyRequest, 'kme.keys.delivered', 1, Type.Object(allocation, { additionalProperties: false }));

export const KeysRetrieved = defineEvent(
  StreamName.KeyRequest,
  'kme.keys.retrieved',
  1,
  Type.Object({ slave_SAE_ID: Id, key_IDs: Type.Array(Uuid, { minItems: 1 }) }, { additionalProperties: false }),
);

export const KeysExpired = defineEvent(StreamName.KeyRequest, 'kme.keys.expired', 1, Type.Object({ request_id: Uuid }, { additionalProperties: false }));

/** The blocks whose material is all spent were securely erased from KEY_SUPPLY. */
export const BlocksErased = defineEvent(
  StreamName.KeyRequest,
  'kme.pool.blocks_erased',
  1,
  Type.Object({ block_seqs: Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1 }) }, { additionalProperties: false }),
);

// Audit of key access and certificate checks, on `audit._platform.<category>`. Never key bytes.

/** Key access granted, one record per delivery (v1). Still read: AUDIT keeps every record ever written. */
export const KeyAccessGrantedV1 = defineEvent(
  StreamName.Audit,
  'audit.kme.key_access_granted',
  1,
  Type.Object(
    {
      category: Type.Literal('key_access'),
      severity: AuditSeverity,
      operation: Type.Union([Type.Literal('enc_keys'), Type.Literal('dec_keys')]),
      kme_id: Id,
      link_id: Id,
      sae_id: Id,
      master_SAE_ID: Id,
      slave_SAE_IDs: Type.Array(Id),
      key_IDs: Type.Array(Uuid),
      key_bits: Bits,
    },
    { additionalProperties: false },
  ),
);

/** One delivery of keys to an SAE: which keys, made for which SAEs, of what size, answering which request. */
export const KeyDelivery = Type.Object(
  {
    master_SAE_ID: Id,
    slave_SAE_IDs: Type.Array(Id, { minItems: 1 }),
    key_IDs: Type.Array(Uuid, { minItems: 1 }),
    key_bits: Bits,
    /** The correlation id of the request the keys answered (the edge's request log line has the same). */
    correlation_id: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

/**
 * Keys handed to one SAE (`sae_id`, also the actor) by one KME over one link: the deliveries of one group commit
 * (enc_keys) or of one request (dec_keys), each with its key_IDs. Never key bytes. A delivery of very many keys
 * may be listed over several records, so that none outgrows a bus message.
 */
export const KeyAccessGranted = defineEvent(
  StreamName.Audit,
  'audit.kme.key_access_granted',
  2,
  Type.Object(
    {
      category: Type.Literal('key_access'),
      severity: AuditSeverity,
      operation: Type.Union([Type.Literal('enc_keys'), Type.Literal('dec_keys')]),
      kme_id: Id,
      link_id: Id,
      sae_id: Id,
      deliveries: Type.Array(KeyDelivery, { minItems: 1 }),
    },
    { additionalProperties: false },
  ),
);

export const KeyAccessRefused = defineEvent(
  StreamName.Audit,
  'audit.kme.key_access_refused',
  1,
  Type.Object(
    {
      category: Type.Literal('key_access'),
      severity: AuditSeverity,
      operation: Type.Union([Type.Literal('status'), Type.Literal('enc_keys'), Type.Literal('dec_keys')]),
      sae_id: Id,
      status: Type.Integer({ minimum: 400, maximum: 599 }),
      message: Type.String({ maxLength: 500 }),
    },
    { additionalProperties: false },
  ),
);

export const CertificateRejected = defineEvent(
  StreamName.Audit,
  'audit.certificate.rejected',
  1,
  Type.Object(
    {
      category: Type.Literal('certificate_validation'),
      severity: AuditSeverity,
      /** The TLS or identity check that failed (e.g. CERT_HAS_EXPIRED, CERT_REVOKED, unknown SAE). */
      reason: Type.String({ maxLength: 200 }),
      listener: Type.String({ maxLength: 100 }),
      certificate_sha256: Type.Optional(Sha256Hex),
      subject: Type.Optional(Type.String({ maxLength: 300 })),
    },
    { additionalProperties: false },
  ),
);

export const kmeEvents: readonly EventDefinition[] = [
  KmeConfigured,
  SaeConfigured,
  SaeRemoved,
  LinkConfigured,
  BlockAdded,
  KeysAllocated,
  KeysDelivered,
  KeysRetrieved,
  KeysExpired,
  BlocksErased,
  KeyAccessGrantedV1,
  KeyAccessGranted,
  KeyAccessRefused,
  CertificateRejected,
];
