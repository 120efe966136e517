import { open, seal, type KekRing } from '@vigil/crypto';
import type { SealedKeyContainer } from './messages.ts';

const context = (keyId: string) => `kme.transport:${keyId}`;

/** Seals one key for its trip from the KME worker to the edge. */
export function sealForEdge(ring: KekRing, keyId: string, material: Uint8Array): SealedKeyContainer['keys'][number] {
  const sealed = seal(ring, material, context(keyId));
  return { key_ID: keyId, kek_id: sealed.kekId, sealed: sealed.data.toString('base64') };
}

/** Opens the keys of a container into the ETSI key container the SAE receives. */
export function openAtEdge(ring: KekRing, container: SealedKeyContainer): { keys: { key_ID: string; key: string }[] } {
  return {
    keys: container.keys.map((k) => ({
      key_ID: k.key_ID,
      key: open(ring, { kekId: k.kek_id, data: Buffer.from(k.sealed, 'base64') }, context(k.key_ID)).toString('base64'),
    })),
  };
}
