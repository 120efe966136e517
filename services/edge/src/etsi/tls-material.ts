import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Config } from '@vigil/config';
import { StartupError } from '@vigil/runtime';

/** The PEM files of the ETSI listener, read from the paths in the settings. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** The CA(s) that sign SAE client certificates. */
  readonly ca: string;
  /** Revocation list(s) of that CA; without one, revoked certificates are not refused. */
  readonly crl?: string;
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly crl?: string;
}

/** The paths the settings give, or one line saying which are missing (an edge alone has no development PKI). */
export function tlsFilesOf(config: Config): TlsFiles {
  const { VIGIL_TLS_CERT_FILE: cert, VIGIL_TLS_KEY_FILE: key, VIGIL_TLS_CA_FILE: ca, VIGIL_TLS_CRL_FILE: crl } = config;
  if (!cert || !key || !ca) {
    const missing = [!cert && 'VIGIL_TLS_CERT_FILE', !key && 'VIGIL_TLS_KEY_FILE', !ca && 'VIGIL_TLS_CA_FILE'].filter((v) => typeof v === 'string');
    throw new StartupError(
      `the ETSI GS QKD 014 listener needs ${missing.join(', ')} (server certificate, its key and the SAE CA; \`vigil pki init --dir D\` makes a set)`,
    );
  }
  return { cert, key, ca, ...(crl ? { crl } : {}) };
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'unreadable';
    throw new StartupError(`${variable}: cannot read ${path} (${reason})`);
  }
}

export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  return {
    cert: readPem('VIGIL_TLS_CERT_FILE', files.cert),
    key: readPem('VIGIL_TLS_KEY_FILE', files.key),
    ca: readPem('VIGIL_TLS_CA_FILE', files.ca),
    ...(files.crl ? { crl: readPem('VIGIL_TLS_CRL_FILE', files.crl) } : {}),
  };
}

/**
 * ECDHE key exchange with AEAD ciphers only (forward secrecy, no CBC, no RSA key transport), TLS 1.3 suites
 * listed too so setting the 1.2 list does not drop them.
 */
export const strongCiphers = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** What makes the listener's TLS context: also what a reload swaps in. */
export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    ...(material.crl ? { crl: material.crl } : {}),
    minVersion: 'TLSv1.2',
    ciphers: strongCiphers,
    honorCipherOrder: true,
    // No session resumption: every connection presents its certificate and is checked against the CRL in force.
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
}

/**
 * Mutual TLS. `rejectUnauthorized` is false on purpose: with it true, Node drops a refused client after the
 * handshake without saying which certificate it was, and the audit record needs its fingerprint. The certificate
 * gate (certificate-gate.ts) destroys every unauthorized connection before HTTP sees it, and the identity check
 * refuses any request on a connection that is not authorized, so nothing is served without a valid certificate.
 */
export function httpsOptions(material: TlsMaterial): TlsOptions {
  return { ...secureContextOptions(material), requestCert: true, rejectUnauthorized: false };
}
