import { readFileSync } from 'node:fs';
import type { ServiceModule } from '@vigil/runtime';
import { IdentityWorker } from './identity-worker.ts';
import { loadIdentityKeys } from './key-files.ts';
import { identityPolicy } from './policy.ts';

/** The identity worker as a service: alone (`main.ts`) or inside `pnpm start`. */
export const identityService: ServiceModule = {
  name: 'identity',
  usesDatabase: false,
  async start(context) {
    const { config, bus, logger } = context;
    const { ring, keys } = loadIdentityKeys(config, logger);
    const worker = new IdentityWorker({ bus, ring, keys, policy: identityPolicy(config), logger });
    await worker.start();
    const admin = config.VIGIL_BOOTSTRAP_ADMIN;
    if (admin) {
      const passwordFile = config.VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE;
      if (!passwordFile) throw new Error('VIGIL_BOOTSTRAP_ADMIN needs VIGIL_BOOTSTRAP_ADMIN_PASSWORD_FILE (a file holding the password)');
      const password = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
      const outcome = await worker.bootstrapAdmin(admin, config.VIGIL_BOOTSTRAP_ADMIN_EMAIL ?? `${admin}@platform.invalid`, password);
      logger.info({ tenant: 'platform', username: admin, outcome, category: 'administration' }, 'bootstrap platform administrator');
    }
    return {
      stop: () => worker.stop(),
      details: async () => ({ signing_keys: keys.publicKeys.map((k) => k.kid), current_key: keys.current.kid }),
    };
  },
};
