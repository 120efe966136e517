import { X509Certificate } from 'node:crypto';
import { CertificateInvalidError } from '@vigil/devices-contract';

export interface DeviceCertificate {
  /** SHA-256 of the DER encoding, lowercase hex: what the broker compares a TLS client certificate with. */
  readonly sha256: string;
  readonly notAfter: Date;
}

/** Reads a device's client certificate (PEM) for registration: it must parse and be valid now. */
export function readDeviceCertificate(pem: string, now: Date = new Date()): DeviceCertificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new CertificateInvalidError('it is not a PEM X.509 certificate');
  }
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (notBefore > now) throw new CertificateInvalidError('it is not valid yet');
  if (notAfter <= now) throw new CertificateInvalidError('it has expired');
  return { sha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase(), notAfter };
}
