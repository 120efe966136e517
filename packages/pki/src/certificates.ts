import { isIP } from 'node:net';
import { generateKeyPair, importSigningKey, privateKeyPem, signingAlgorithmOf, type KeyAlgorithm } from './keys.ts';
import { randomSerialNumber } from './serial.ts';
import { validityPeriod, type Validity } from './validity.ts';
import { x509 } from './x509.ts';

/** A certificate with its private key, both PEM. The key is a secret: write it 0600, never log it. */
export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface CaOptions extends Validity {
  /** Subject CN of the CA. */
  readonly commonName?: string;
  readonly keyAlgorithm?: KeyAlgorithm;
}

/** A self-signed CA: CA:true (critical, no intermediate below it), keyCertSign and cRLSign only. */
export async function createCertificateAuthority(options: CaOptions = {}): Promise<IssuedCertificate> {
  const algorithm = options.keyAlgorithm ?? 'ec-p256';
  const { keys } = await generateKeyPair(algorithm);
  const name = [{ CN: [options.commonName ?? 'Vigil development CA'] }];
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name,
    ...validityPeriod(options, 3650),
    signingAlgorithm: signingAlgorithmOf(algorithm),
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificatePem: certificate.toString('pem'), privateKeyPem: await privateKeyPem(keys.privateKey) };
}

export interface LeafOptions extends Validity {
  /** Default: the CA's key algorithm. */
  readonly keyAlgorithm?: KeyAlgorithm;
}

export interface ServerOptions extends LeafOptions {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** Default: the first DNS name, else the first IP address. */
  readonly commonName?: string;
}

export interface SaeOptions extends LeafOptions {
  /** The SAE_ID: the subject CN, the default place the edge reads it from. */
  readonly saeId: string;
  /** A URI subject alternative name, for edges that read the SAE_ID from one (VIGIL_SAE_ID_FROM=uri-san). */
  readonly uriSan?: string;
  /** A DNS subject alternative name, for edges that read the SAE_ID from one (VIGIL_SAE_ID_FROM=dns-san). */
  readonly dnsSan?: string;
}

type Purpose = 'serverAuth' | 'clientAuth';

const purposeOid: Readonly<Record<Purpose, string>> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
};

async function issue(
  ca: IssuedCertificate,
  leaf: { commonName: string; names: x509.JsonGeneralName[]; purpose: Purpose; options: LeafOptions; defaultDays: number },
): Promise<IssuedCertificate> {
  const caCertificate = new x509.X509Certificate(ca.certificatePem);
  const signer = await importSigningKey(ca.privateKeyPem);
  const algorithm = leaf.options.keyAlgorithm ?? signer.algorithm;
  const { keys } = await generateKeyPair(algorithm);
  // RSA keys may also encipher a TLS 1.2 premaster secret; EC keys only sign.
  const usages = x509.KeyUsageFlags.digitalSignature | (algorithm === 'rsa-3072' ? x509.KeyUsageFlags.keyEncipherment : 0);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [leaf.commonName] }],
    issuer: caCertificate.subjectName,
    ...validityPeriod(leaf.options, leaf.defaultDays),
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signingAlgorithmOf(signer.algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([purposeOid[leaf.purpose]], false),
      ...(leaf.names.length > 0 ? [new x509.SubjectAlternativeNameExtension(leaf.names, false)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
    ],
  });
  return { certificatePem: certificate.toString('pem'), privateKeyPem: await privateKeyPem(keys.privateKey) };
}

/** A TLS server certificate (serverAuth) for the given DNS names and IP addresses. */
export async function issueServerCertificate(ca: IssuedCertificate, options: ServerOptions): Promise<IssuedCertificate> {
  for (const ip of options.ipAddresses) if (isIP(ip) === 0) throw new Error(`${JSON.stringify(ip)} is not an IP address`);
  const commonName = options.commonName ?? options.dnsNames[0] ?? options.ipAddresses[0];
  if (!commonName) throw new Error('a server certificate needs at least one DNS name or IP address');
  const names: x509.JsonGeneralName[] = [
    ...options.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...options.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  return issue(ca, { commonName, names, purpose: 'serverAuth', options, defaultDays: 825 });
}

/** An SAE's client certificate (clientAuth): subject CN = SAE_ID, and the optional URI and DNS SANs. */
export async function issueSaeCertificate(ca: IssuedCertificate, options: SaeOptions): Promise<IssuedCertificate> {
  if (options.saeId.length === 0) throw new Error('an SAE certificate needs an SAE_ID');
  const names: x509.JsonGeneralName[] = [
    ...(options.uriSan ? [{ type: 'url' as const, value: options.uriSan }] : []),
    ...(options.dnsSan ? [{ type: 'dns' as const, value: options.dnsSan }] : []),
  ];
  return issue(ca, { commonName: options.saeId, names, purpose: 'clientAuth', options, defaultDays: 365 });
}
