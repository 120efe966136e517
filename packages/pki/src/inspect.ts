import { createHash } from 'node:crypto';
import { x509 } from './x509.ts';

/** SHA-256 of a certificate's DER, lower-case hex without separators: the form pins and audit records use. */
export function certificateSha256(certificate: string | Uint8Array): string {
  const der = typeof certificate === 'string' ? Buffer.from(x509.PemConverter.decodeFirst(certificate)) : certificate;
  return createHash('sha256').update(der).digest('hex');
}

/** The names in a certificate an identity can be read from. */
export interface CertificateNames {
  /** The subject as text (RFC 4514), for audit records and messages. */
  readonly subject: string;
  /** The subject's CN values (usually one). */
  readonly commonNames: readonly string[];
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** Hex, lower case. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Parses a certificate (PEM or DER) for its names. Throws when it is not a certificate. */
export function certificateNames(certificate: string | Uint8Array): CertificateNames {
  const parsed = new x509.X509Certificate(certificate);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const valuesOf = (type: x509.GeneralNameType) => names.filter((n) => n.type === type).map((n) => n.value);
  return {
    subject: parsed.subject,
    commonNames: parsed.subjectName.getField('CN'),
    uris: valuesOf('url'),
    dnsNames: valuesOf('dns'),
    ipAddresses: valuesOf('ip'),
    serialNumber: parsed.serialNumber.toLowerCase(),
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
  };
}
