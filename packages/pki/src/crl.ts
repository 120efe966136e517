import { importSigningKey, signingAlgorithmOf } from './keys.ts';
import { normalSerial } from './serial.ts';
import type { IssuedCertificate } from './certificates.ts';
import { x509 } from './x509.ts';

export interface RevokedEntry {
  /** Hex serial number of the revoked certificate. */
  readonly serialNumber: string;
  readonly revokedAt: Date;
}

export interface CrlOptions {
  readonly revoked: readonly RevokedEntry[];
  /** The CRL's sequence number (RFC 5280 §5.2.3): one more than the CRL it replaces. */
  readonly crlNumber: number;
  readonly thisUpdate?: Date;
  /**
   * Days until nextUpdate. TLS peers refuse every client once a CRL is past its nextUpdate (CRL_HAS_EXPIRED), so
   * a CRL must be issued again before then (`vigil pki crl`).
   */
  readonly days?: number;
}

const crlNumberOid = '2.5.29.20';
const dayMs = 24 * 60 * 60 * 1000;

/** DER of a non-negative INTEGER. */
function derInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`CRL number ${n} is not a non-negative integer`);
  let hex = n.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const body = Buffer.from(hex, 'hex');
  const content = (body[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
  return Buffer.concat([Buffer.from([0x02, content.length]), content]);
}

/** A CRL signed by the CA, listing the revoked serial numbers. */
export async function createCrl(ca: IssuedCertificate, options: CrlOptions): Promise<string> {
  const caCertificate = new x509.X509Certificate(ca.certificatePem);
  const signer = await importSigningKey(ca.privateKeyPem);
  const thisUpdate = options.thisUpdate ?? new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCertificate.subjectName,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + (options.days ?? 365) * dayMs),
    signingKey: signer.key,
    signingAlgorithm: signingAlgorithmOf(signer.algorithm),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
      new x509.Extension(crlNumberOid, false, derInteger(options.crlNumber)),
    ],
    entries: options.revoked.map((r) => ({ serialNumber: normalSerial(r.serialNumber), revocationDate: r.revokedAt })),
  });
  // "X509 CRL" is the PEM label OpenSSL (and so Node's TLS) reads; the library's default "CRL" it refuses.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
}

export interface ParsedCrl {
  readonly revoked: RevokedEntry[];
  /** 0 when the CRL carries no number. */
  readonly crlNumber: number;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
}

/** Reads a CRL made by createCrl (or by any CA), to issue the next one. Its signature is not checked here. */
export function parseCrl(pem: string): ParsedCrl {
  const crl = new x509.X509Crl(pem);
  const numberExtension = crl.extensions.find((e) => e.type === crlNumberOid);
  let crlNumber = 0;
  if (numberExtension) {
    const der = Buffer.from(numberExtension.value);
    // INTEGER: tag 0x02, a short length, the big-endian value.
    if (der[0] === 0x02 && (der[1] ?? 0) <= 6) crlNumber = der.subarray(2, 2 + (der[1] ?? 0)).reduce((n, b) => n * 256 + b, 0);
  }
  return {
    revoked: crl.entries.map((e) => ({ serialNumber: normalSerial(e.serialNumber), revokedAt: e.revocationDate })),
    crlNumber,
    thisUpdate: crl.thisUpdate,
    ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate } : {}),
  };
}
