import type { DataOf, KeyAccessGranted } from '@vigil/schemas';
import type { Delivery } from './key-request.ts';

/** Keys handed to an SAE, as the audit records them. */
export interface Handed {
  readonly saeId: string;
  readonly delivery: Delivery;
  readonly keyIds: readonly string[];
  readonly correlationId: string;
}

export type KeyDelivery = DataOf<typeof KeyAccessGranted>['deliveries'][number];

/** The most key_IDs one audit record lists (some 160 kB), so that a record never outgrows a bus message. */
export const maxKeyIdsPerAuditRecord = 4096;

/**
 * The audit records of keys handed out, by the SAE that got them: each record lists deliveries of one SAE, at most
 * `limit` key_IDs in all; a delivery larger than that is listed over several records. Every key_ID handed out is
 * listed exactly once.
 */
export function keyAccessRecords(handed: readonly Handed[], limit = maxKeyIdsPerAuditRecord): Map<string, KeyDelivery[][]> {
  const bySae = new Map<string, KeyDelivery[][]>();
  const room = new Map<string, number>();
  for (const h of handed) {
    const records = bySae.get(h.saeId) ?? [];
    bySae.set(h.saeId, records);
    for (let at = 0; at < h.keyIds.length; ) {
      let left = room.get(h.saeId) ?? 0;
      let current = records[records.length - 1];
      if (!current || left === 0) {
        current = [];
        records.push(current);
        left = limit;
      }
      const keyIds = h.keyIds.slice(at, at + left);
      current.push({ master_SAE_ID: h.delivery.master_SAE_ID, slave_SAE_IDs: [...h.delivery.slave_SAE_IDs], key_IDs: keyIds, key_bits: h.delivery.key_bits, correlation_id: h.correlationId });
      at += keyIds.length;
      room.set(h.saeId, left - keyIds.length);
    }
  }
  return bySae;
}
