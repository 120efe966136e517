import { randomToken, sha256Hex } from '@vigil/crypto';
import { apiKeyPrefix } from '@vigil/identity-contract';

/** A new API key `vgl_<key id>_<256 random bits, base64url>`, and the SHA-256 that is all Vigil keeps of it. */
export function newApiKey(keyId: string): { key: string; sha256: string } {
  const key = `${apiKeyPrefix}${keyId}_${randomToken()}`;
  return { key, sha256: sha256Hex(key) };
}
