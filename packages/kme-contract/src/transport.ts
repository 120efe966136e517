import { createHash } from 'node:crypto';
import { open, seal, type KekRing } from '@vigil/crypto';
import type { SealedKeyContainer } from './messages.ts';

/** What a container's sealing is bound to: its key_IDs, in order, so keys cannot be swapped or relabelled. */
function context(keyIds: readonly string[]): string {
  return `kme.transport:${createHash('sha256').update(keyIds.join(',')).digest('hex')}`;
}

/** Seals keys for their trip from the KME worker to the edge. The caller zeroes its copies of the material. */
export function sealForEdge(ring: KekRing, keys: readonly { readonly key_ID: string; readonly material: Uint8Array }[]): SealedKeyContainer {
  const joined = Buffer.concat(keys.map((k) => k.material));
  try {
    const sealed = seal(ring, joined, context(keys.map((k) => k.key_ID)));
    return { keys: keys.map((k) => ({ key_ID: k.key_ID, bytes: k.material.length })), kek_id: sealed.kekId, sealed: sealed.data.toString('base64') };
  } finally {
    joined.fill(0);
  }
}

/** Opens a container into the ETSI key container the SAE receives. */
export function openAtEdge(ring: KekRing, container: SealedKeyContainer): { keys: { key_ID: string; key: string }[] } {
  const joined = open(ring, { kekId: container.kek_id, data: Buffer.from(container.sealed, 'base64') }, context(container.keys.map((k) => k.key_ID)));
  try {
    const total = container.keys.reduce((n, k) => n + k.bytes, 0);
    if (total !== joined.length) throw new Error('a key container whose sizes do not match its material');
    let at = 0;
    return {
      keys: container.keys.map((k) => {
        const key = joined.subarray(at, at + k.bytes).toString('base64');
        at += k.bytes;
        return { key_ID: k.key_ID, key };
      }),
    };
  } finally {
    joined.fill(0);
  }
}
