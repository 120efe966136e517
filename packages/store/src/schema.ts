import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Where each projection has got to: the last stream sequence applied, written in the same transaction as the
 * rows it produced. This is what makes a projection exactly-once in effect.
 */
export const projectionCheckpoints = pgTable('projection_checkpoints', {
  projection: text('projection').primaryKey(),
  stream: text('stream').notNull(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The audit trail (services/audit): every AUDIT event in stream order, each row chained to the one before by
 * `hash = SHA-256(prev_hash ‖ JCS(record))`. Append-only: a trigger refuses UPDATE and DELETE, and TRUNCATE outside a
 * projection reset (migration 0001). Every column but `prev_hash` and `hash` is part of the hashed record, so `at`
 * is kept to the millisecond the record states and ids are text, exactly as the events carry them.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    /** The record's number in the chain, from 1. */
    position: bigint('position', { mode: 'number' }).primaryKey(),
    /** Its AUDIT stream sequence. */
    seq: bigint('seq', { mode: 'number' }).notNull().unique(),
    eventId: text('event_id').notNull().unique(),
    type: text('type').notNull(),
    v: integer('v').notNull(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    tenant: text('tenant'),
    actorKind: text('actor_kind').notNull(),
    actorId: text('actor_id').notNull(),
    correlationId: text('correlation_id').notNull(),
    causationId: text('causation_id'),
    category: text('category').notNull(),
    severity: text('severity').notNull(),
    subject: text('subject').notNull(),
    /** The event's data less category and severity (for summaries: the source reference). */
    details: jsonb('details').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_log_tenant_at').on(t.tenant, t.at),
    index('audit_log_category_at').on(t.category, t.at),
    index('audit_log_at').on(t.at),
    // GET /audit/events: one tenant's records in chain order, a page after a position (keyset), without a sort.
    index('audit_log_tenant_position').on(t.tenant, t.position),
  ],
);

/**
 * KME links as the key pool sees them (services/kme): limits from the topology, material allocated and erased.
 * Never key material: sizes and counts only.
 */
export const kmeLinks = pgTable('kme_links', {
  linkId: text('link_id').primaryKey(),
  kmeIds: jsonb('kme_ids').$type<string[]>().notNull(),
  keySize: integer('key_size').notNull(),
  limits: jsonb('limits').$type<Record<string, number>>().notNull(),
  rateBps: bigint('rate_bps', { mode: 'number' }).notNull(),
  allocatedBytes: bigint('allocated_bytes', { mode: 'number' }).notNull().default(0),
  allocatedKeys: bigint('allocated_keys', { mode: 'number' }).notNull().default(0),
  erasedBlocks: bigint('erased_blocks', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Material each link has received from its QKD link (KEY_SUPPLY), by a projection of its own. */
export const kmeSupply = pgTable('kme_supply', {
  linkId: text('link_id').primaryKey(),
  suppliedBytes: bigint('supplied_bytes', { mode: 'number' }).notNull().default(0),
  blocks: bigint('blocks', { mode: 'number' }).notNull().default(0),
  lastBlockAt: timestamp('last_block_at', { withTimezone: true, mode: 'string' }),
});

/**
 * Each enc_keys request's keys: who they were made for and what became of them. Key i of a request has the
 * request id with i in its last 16 bits, so this table answers "key_ID → owner/status" too.
 */
export const kmeKeyRequests = pgTable(
  'kme_key_requests',
  {
    requestId: text('request_id').primaryKey(),
    linkId: text('link_id').notNull(),
    kmeId: text('kme_id').notNull(),
    masterSaeId: text('master_sae_id').notNull(),
    slaveSaeIds: jsonb('slave_sae_ids').$type<string[]>().notNull(),
    keyCount: integer('key_count').notNull(),
    keyBits: integer('key_bits').notNull(),
    /** delivered → retrieved (every slave has every key) or expired. */
    status: text('status').notNull(),
    /** Keys retrieved so far, by slave SAE. */
    retrieved: jsonb('retrieved').$type<Record<string, number>>().notNull(),
    allocatedAt: timestamp('allocated_at', { withTimezone: true, mode: 'string' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'string' }).notNull(),
  },
  (t) => [index('kme_key_requests_link_status').on(t.linkId, t.status), index('kme_key_requests_master').on(t.masterSaeId)],
);

/** A device credential as the registry read model shows it: what and when, never its hash. */
export interface DeviceCredentialRecord {
  readonly credential_id: string;
  readonly kind: 'secret' | 'certificate';
  readonly issued_at: string;
  readonly expires_at?: string;
  readonly revoked_at?: string;
}

/**
 * Registered devices (services/telemetry, from DEVICE_REGISTRY): one row per device of a tenant, with its
 * credentials' lifecycle. Never a secret or a credential hash.
 */
export const devices = pgTable(
  'devices',
  {
    tenant: text('tenant').notNull(),
    deviceId: uuid('device_id').notNull(),
    name: text('name').notNull(),
    deviceType: text('device_type').notNull(),
    serial: text('serial').notNull(),
    talq: jsonb('talq').$type<{ address: string; device_class: string }>(),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull(),
    status: text('status').$type<'active' | 'decommissioned'>().notNull(),
    registeredAt: timestamp('registered_at', { withTimezone: true, precision: 3 }).notNull(),
    credentials: jsonb('credentials').$type<DeviceCredentialRecord[]>().notNull(),
    /** The DEVICE_REGISTRY sequence of the last event applied to this device. */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  },
  // Keyset pages of one tenant's devices walk the primary key.
  (t) => [primaryKey({ columns: [t.tenant, t.deviceId] })],
);

/**
 * What devices last said (services/telemetry, from DEVICE_TELEMETRY): presence, the time of the last message of
 * any kind, the last heartbeat's uptime. A projection of its own stream, so a row may exist before its device's.
 */
export const deviceStatus = pgTable(
  'device_status',
  {
    tenant: text('tenant').notNull(),
    deviceId: uuid('device_id').notNull(),
    online: boolean('online').notNull(),
    /** The broker session that brought the device online; an offline of an older session changes nothing. */
    session: text('session'),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, precision: 3 }),
    lastUptimeS: doublePrecision('last_uptime_s'),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.deviceId] })],
);
