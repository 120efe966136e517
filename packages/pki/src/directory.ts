import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, issueSaeCertificate, issueServerCertificate, type IssuedCertificate, type SaeOptions, type ServerOptions } from './certificates.ts';
import { createCrl, parseCrl } from './crl.ts';
import { writePrivateKeyFile, writePublicFile } from './files.ts';
import { certificateNames, certificateSha256 } from './inspect.ts';
import type { KeyAlgorithm } from './keys.ts';
import { normalSerial } from './serial.ts';
import { x509 } from './x509.ts';

/**
 * The files of a PKI directory, as `vigil pki` writes them and the ETSI listener reads them
 * (VIGIL_TLS_CA_FILE, VIGIL_TLS_CRL_FILE, VIGIL_TLS_CERT_FILE, VIGIL_TLS_KEY_FILE).
 */
export interface PkiPaths {
  readonly dir: string;
  readonly caCertificate: string;
  readonly caKey: string;
  readonly crl: string;
  readonly serverCertificate: string;
  readonly serverKey: string;
}

export function pkiPaths(dir: string): PkiPaths {
  return {
    dir,
    caCertificate: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    crl: join(dir, 'ca.crl'),
    serverCertificate: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
}

export class PkiDirectoryError extends Error {}

/** An SAE_ID becomes a file name: it must not be able to leave the directory or hide as a dot file. */
export function saePaths(dir: string, saeId: string): { certificate: string; key: string } {
  if (!/^[A-Za-z0-9_~:@+-][A-Za-z0-9._~:@+-]*$/.test(saeId)) throw new PkiDirectoryError(`${JSON.stringify(saeId)} cannot be the file name of an SAE certificate`);
  return { certificate: join(dir, `${saeId}.crt`), key: join(dir, `${saeId}.key`) };
}

export function loadCa(dir: string): IssuedCertificate {
  const paths = pkiPaths(dir);
  if (!existsSync(paths.caCertificate) || !existsSync(paths.caKey)) {
    throw new PkiDirectoryError(`${dir} holds no CA (ca.crt and ca.key); create one with \`vigil pki init --dir ${dir}\``);
  }
  return { certificatePem: readFileSync(paths.caCertificate, 'utf8'), privateKeyPem: readFileSync(paths.caKey, 'utf8') };
}

function writeIssued(certificatePath: string, keyPath: string, issued: IssuedCertificate): void {
  writePrivateKeyFile(keyPath, issued.privateKeyPem);
  writePublicFile(certificatePath, issued.certificatePem);
}

export interface InitOptions {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly keyAlgorithm?: KeyAlgorithm;
  readonly caCommonName?: string;
  /** Days until the CRL's nextUpdate. */
  readonly crlDays?: number;
}

/** A new CA with its (empty) CRL and a server certificate. Refuses to replace a CA that exists. */
export async function initPki(dir: string, options: InitOptions): Promise<PkiPaths> {
  const paths = pkiPaths(dir);
  if (existsSync(paths.caKey) || existsSync(paths.caCertificate)) throw new PkiDirectoryError(`${dir} holds a CA already; it is never replaced`);
  const ca = await createCertificateAuthority({
    ...(options.keyAlgorithm ? { keyAlgorithm: options.keyAlgorithm } : {}),
    ...(options.caCommonName ? { commonName: options.caCommonName } : {}),
  });
  writeIssued(paths.caCertificate, paths.caKey, ca);
  writePublicFile(paths.crl, await createCrl(ca, { revoked: [], crlNumber: 1, ...(options.crlDays ? { days: options.crlDays } : {}) }));
  await writeServerCertificate(dir, { dnsNames: options.dnsNames, ipAddresses: options.ipAddresses });
  return paths;
}

/** A development CRL is issued again when it has less than this left, so a laptop's Vigil never refuses everyone. */
const crlRenewalMs = 30 * 24 * 60 * 60 * 1000;

/**
 * The PKI `pnpm start` uses when no TLS files are configured: created on first start, completed when a file is
 * missing, its CRL renewed before it expires, left alone otherwise (so SAE certificates issued against it stay
 * valid across restarts).
 */
export async function ensureDevelopmentPki(dir: string): Promise<{ paths: PkiPaths; created: boolean }> {
  const paths = pkiPaths(dir);
  if (!existsSync(paths.caCertificate) && !existsSync(paths.caKey)) {
    await initPki(dir, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], caCommonName: 'Vigil development CA' });
    return { paths, created: true };
  }
  const ca = loadCa(dir);
  let created = false;
  if (!existsSync(paths.crl)) {
    writePublicFile(paths.crl, await createCrl(ca, { revoked: [], crlNumber: 1 }));
    created = true;
  } else if ((parseCrl(readFileSync(paths.crl, 'utf8')).nextUpdate?.getTime() ?? Infinity) < Date.now() + crlRenewalMs) {
    await renewCrl(dir);
  }
  if (!existsSync(paths.serverCertificate) || !existsSync(paths.serverKey)) {
    await writeServerCertificate(dir, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
    created = true;
  }
  return { paths, created };
}

/** Issues (or replaces) the server certificate of the directory's CA. */
export async function writeServerCertificate(dir: string, options: ServerOptions): Promise<PkiPaths> {
  const paths = pkiPaths(dir);
  writeIssued(paths.serverCertificate, paths.serverKey, await issueServerCertificate(loadCa(dir), options));
  return paths;
}

export interface SaeIssued {
  readonly certificate: string;
  readonly key: string;
  readonly sha256: string;
  readonly serialNumber: string;
}

/** Issues an SAE client certificate into `<SAE_ID>.crt` / `<SAE_ID>.key`; refuses to overwrite unless asked. */
export async function writeSaeCertificate(dir: string, options: SaeOptions & { readonly overwrite?: boolean }): Promise<SaeIssued> {
  const files = saePaths(dir, options.saeId);
  if (!options.overwrite && (existsSync(files.certificate) || existsSync(files.key))) {
    throw new PkiDirectoryError(`${files.certificate} exists; revoke it first, or overwrite it on purpose (--force)`);
  }
  const issued = await issueSaeCertificate(loadCa(dir), options);
  writeIssued(files.certificate, files.key, issued);
  return { ...files, sha256: certificateSha256(issued.certificatePem), serialNumber: certificateNames(issued.certificatePem).serialNumber };
}

/** Issues the CRL again with the same entries (and any added), one number higher. */
async function reissueCrl(dir: string, add: readonly { serialNumber: string; revokedAt: Date }[], days?: number): Promise<void> {
  const paths = pkiPaths(dir);
  const ca = loadCa(dir);
  const previous = existsSync(paths.crl) ? parseCrl(readFileSync(paths.crl, 'utf8')) : { revoked: [], crlNumber: 0 };
  const revoked = [...previous.revoked, ...add];
  writePublicFile(paths.crl, await createCrl(ca, { revoked, crlNumber: previous.crlNumber + 1, ...(days ? { days } : {}) }));
}

export interface Revocation {
  readonly serialNumber: string;
  readonly subject: string;
  /** It was on the CRL already: nothing changed. */
  readonly alreadyRevoked: boolean;
}

/** Adds a certificate issued by the directory's CA to its CRL (`ca.crl`). */
export async function revokeCertificate(dir: string, certificatePem: string, options: { crlDays?: number } = {}): Promise<Revocation> {
  const ca = loadCa(dir);
  const caCertificate = new x509.X509Certificate(ca.certificatePem);
  const certificate = new x509.X509Certificate(certificatePem);
  if (!(await certificate.verify({ publicKey: caCertificate.publicKey, signatureOnly: true }))) {
    throw new PkiDirectoryError(`the certificate ${certificate.subject} was not issued by the CA in ${dir}`);
  }
  const serialNumber = normalSerial(certificate.serialNumber);
  const paths = pkiPaths(dir);
  const listed = existsSync(paths.crl) ? parseCrl(readFileSync(paths.crl, 'utf8')).revoked : [];
  if (listed.some((r) => r.serialNumber === serialNumber)) return { serialNumber, subject: certificate.subject, alreadyRevoked: true };
  await reissueCrl(dir, [{ serialNumber, revokedAt: new Date() }], options.crlDays);
  return { serialNumber, subject: certificate.subject, alreadyRevoked: false };
}

/** Issues the CRL again (a new thisUpdate/nextUpdate) before it expires. */
export async function renewCrl(dir: string, options: { crlDays?: number } = {}): Promise<void> {
  await reissueCrl(dir, [], options.crlDays);
}
