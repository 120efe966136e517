import { join } from 'node:path';
import type { Config } from '@vigil/config';
import Type, { type Static } from 'typebox';

/** Where a link's sealed key material blocks are published. */
export function supplySubject(linkId: string): string {
  return `keysupply.${linkId}`;
}

/** What a block's sealing is bound to: its id, so a block's ciphertext cannot pass for another's. */
export function blockContext(blockId: string): string {
  return `kme.block:${blockId}`;
}

/** The KEK file of this deployment: VIGIL_KME_KEK_FILE, or the one `pnpm start` keeps in the data directory. */
export function kekFilePath(config: Pick<Config, 'VIGIL_KME_KEK_FILE' | 'VIGIL_DATA_DIR'>): string {
  return config.VIGIL_KME_KEK_FILE ?? join(config.VIGIL_DATA_DIR, 'kme-kek.json');
}

/** How full a link's pool is, for the QKD link (simulator) that feeds it. */
export const PoolLevelRequest = Type.Object({ link_id: Type.String({ minLength: 1 }) }, { additionalProperties: false });
export type PoolLevelRequest = Static<typeof PoolLevelRequest>;
export const PoolLevel = Type.Object(
  {
    link_id: Type.String(),
    available_bytes: Type.Integer({ minimum: 0 }),
    capacity_bytes: Type.Integer({ minimum: 0 }),
    rate_bps: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type PoolLevel = Static<typeof PoolLevel>;
