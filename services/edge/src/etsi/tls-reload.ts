import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Server } from 'node:https';
import type { Logger } from '@vigil/log';
import { readTlsMaterial, secureContextOptions, type TlsFiles } from './tls-material.ts';

/**
 * Swaps the listener's TLS context when one of its files changes, so a certificate revoked with `vigil pki revoke`
 * (a new CRL) or a renewed server certificate takes effect without a restart. New connections get the new context;
 * a change that does not load (a key and certificate replaced one at a time) keeps the old one until the next.
 * Returns the function that stops watching.
 */
export function reloadTlsOnChange(server: Server, files: TlsFiles, intervalMs: number, logger: Logger): () => void {
  const paths = [files.cert, files.key, files.ca, ...(files.crl ? [files.crl] : [])];
  const onChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    try {
      server.setSecureContext(secureContextOptions(readTlsMaterial(files)));
      logger.info({ files: paths }, 'ETSI listener TLS files reloaded');
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'ETSI listener TLS files changed but do not load; keeping the previous ones');
    }
  };
  for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, onChange);
  return () => {
    for (const path of paths) unwatchFile(path, onChange);
  };
}
