import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '@vigil/config';
import { createKekFile, loadKekRing, type KekRing } from '@vigil/crypto';
import type { Logger } from '@vigil/log';
import { createSigningKeysFile, loadSigningKeys, type SigningKeys } from './signing-keys.ts';

type KeySettings = Pick<Config, 'VIGIL_IDENTITY_KEK_FILE' | 'VIGIL_IDENTITY_SIGNING_KEYS_FILE' | 'VIGIL_DATA_DIR'>;

/**
 * The identity's keys: a named file is required to exist (a deployment's replicas share it); with the setting unset,
 * a file under VIGIL_DATA_DIR is made on first start, which suits one machine (`pnpm start`) and nothing more.
 */
export function loadIdentityKeys(config: KeySettings, logger: Logger): { ring: KekRing; keys: SigningKeys } {
  const kekFile = config.VIGIL_IDENTITY_KEK_FILE ?? join(config.VIGIL_DATA_DIR, 'identity-kek.json');
  const keysFile = config.VIGIL_IDENTITY_SIGNING_KEYS_FILE ?? join(config.VIGIL_DATA_DIR, 'identity-signing-keys.json');
  if (!config.VIGIL_IDENTITY_KEK_FILE && !existsSync(kekFile)) {
    createKekFile(kekFile);
    logger.info({ file: kekFile }, 'made identity key-encryption keys (set VIGIL_IDENTITY_KEK_FILE to use your own)');
  }
  if (!config.VIGIL_IDENTITY_SIGNING_KEYS_FILE && !existsSync(keysFile)) {
    createSigningKeysFile(keysFile);
    logger.info({ file: keysFile }, 'made token signing keys (set VIGIL_IDENTITY_SIGNING_KEYS_FILE to use your own)');
  }
  return { ring: loadKekRing(kekFile), keys: loadSigningKeys(keysFile) };
}
