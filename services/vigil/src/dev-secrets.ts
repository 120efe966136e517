// The secrets `pnpm start` makes for itself when none are configured, so Vigil runs on a laptop with no setup:
// the KME's key-encryption keys and a development PKI for the ETSI listener. Only the one-process launcher uses
// this; a service started on its own requires its files and says which are missing.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig } from '@vigil/config';
import { createKekFile } from '@vigil/kme-contract';
import { ensureDevelopmentPki } from '@vigil/pki';

export interface DevelopmentSecrets {
  /** Settings to add to the environment the process reads (only variables that were unset). */
  readonly env: Record<string, string>;
  /** Lines for the start-up banner: what was made and where. */
  readonly notes: readonly string[];
}

const tlsVariables = ['VIGIL_TLS_CERT_FILE', 'VIGIL_TLS_KEY_FILE', 'VIGIL_TLS_CA_FILE', 'VIGIL_TLS_CRL_FILE'] as const;

export async function developmentSecrets(env: Record<string, string | undefined>): Promise<DevelopmentSecrets> {
  let dataDir: string;
  try {
    dataDir = resolve(loadConfig(env).VIGIL_DATA_DIR);
  } catch (err) {
    // A bad setting: the start reports it, naming the variable, before anything is made.
    if (err instanceof ConfigError) return { env: {}, notes: [] };
    throw err;
  }
  const overlay: Record<string, string> = {};
  const notes: string[] = [];

  if (!env['VIGIL_KME_KEK_FILE']) {
    const kekFile = join(dataDir, 'kme-kek.json');
    if (!existsSync(kekFile)) createKekFile(kekFile);
    overlay['VIGIL_KME_KEK_FILE'] = kekFile;
    notes.push(`KME key-encryption keys in ${kekFile} (set VIGIL_KME_KEK_FILE to use your own)`);
  }

  // All four unset: a PKI of its own. Some set: the operator's PKI, and the edge names what is missing.
  if (tlsVariables.every((v) => !env[v])) {
    const dir = join(dataDir, 'pki');
    const { paths } = await ensureDevelopmentPki(dir);
    overlay['VIGIL_TLS_CERT_FILE'] = paths.serverCertificate;
    overlay['VIGIL_TLS_KEY_FILE'] = paths.serverKey;
    overlay['VIGIL_TLS_CA_FILE'] = paths.caCertificate;
    overlay['VIGIL_TLS_CRL_FILE'] = paths.crl;
    notes.push(`development PKI in ${dir} (an SAE certificate: pnpm vigil pki sae <SAE_ID> --dir ${dir})`);
  }
  return { env: overlay, notes };
}
