import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { x509 } from '../src/x509.ts';
import {
  certificateNames,
  certificateSha256,
  createCertificateAuthority,
  createCrl,
  issueSaeCertificate,
  issueServerCertificate,
  parseCrl,
  type IssuedCertificate,
} from '../src/index.ts';

const day = 24 * 60 * 60 * 1000;

function keyUsageOf(pem: string): number | undefined {
  return new x509.X509Certificate(pem).getExtension(x509.KeyUsagesExtension)?.usages;
}

let ca: IssuedCertificate | undefined;
async function testCa(): Promise<IssuedCertificate> {
  ca ??= await createCertificateAuthority({ commonName: 'Test CA' });
  return ca;
}

test('a CA is CA:true with keyCertSign and cRLSign, self-signed, EC P-256 by default', async () => {
  const { certificatePem, privateKeyPem } = await testCa();
  const cert = new X509Certificate(certificatePem);
  assert.equal(cert.ca, true);
  assert.equal(cert.subject, 'CN=Test CA');
  assert.ok(cert.checkIssued(cert) && cert.verify(cert.publicKey), 'self-signed');
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(keyUsageOf(certificatePem), x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
});

test('an RSA-3072 CA signs leaves too', async () => {
  const rsa = await createCertificateAuthority({ keyAlgorithm: 'rsa-3072' });
  const caCert = new X509Certificate(rsa.certificatePem);
  assert.equal(caCert.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
  const leaf = new X509Certificate((await issueSaeCertificate(rsa, { saeId: 'SAE_R', keyAlgorithm: 'ec-p256' })).certificatePem);
  assert.ok(leaf.checkIssued(caCert) && leaf.verify(caCert.publicKey));
});

test('a server certificate: serverAuth, DNS and IP SANs, not a CA, issued by the CA', async () => {
  const authority = await testCa();
  const server = await issueServerCertificate(authority, { dnsNames: ['localhost', 'kme.example'], ipAddresses: ['127.0.0.1', '::1'] });
  const cert = new X509Certificate(server.certificatePem);
  const caCert = new X509Certificate(authority.certificatePem);
  assert.equal(cert.ca, false);
  assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(cert.subjectAltName, 'DNS:localhost, DNS:kme.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(cert.checkHost('kme.example'), 'kme.example');
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(cert.subject, 'CN=localhost');
  assert.equal(keyUsageOf(server.certificatePem), x509.KeyUsageFlags.digitalSignature);
});

test('a server certificate refuses what is not an IP address', async () => {
  await assert.rejects(issueServerCertificate(await testCa(), { dnsNames: [], ipAddresses: ['localhost'] }), /not an IP address/);
});

test('an SAE certificate: CN = SAE_ID, clientAuth, optional URI and DNS SANs, and its fingerprint', async () => {
  const authority = await testCa();
  const sae = await issueSaeCertificate(authority, { saeId: 'SAE_A', uriSan: 'urn:example:sae:SAE_A', dnsSan: 'sae-a.example', days: 30 });
  const cert = new X509Certificate(sae.certificatePem);
  assert.equal(cert.subject, 'CN=SAE_A');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.equal(cert.subjectAltName, 'URI:urn:example:sae:SAE_A, DNS:sae-a.example');
  assert.ok(cert.verify(new X509Certificate(authority.certificatePem).publicKey));
  const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / day;
  assert.equal(Math.round(days), 30);
  assert.equal(certificateSha256(sae.certificatePem), cert.fingerprint256.replace(/:/g, '').toLowerCase());
  assert.equal(certificateSha256(cert.raw), certificateSha256(sae.certificatePem));
  const names = certificateNames(cert.raw);
  assert.deepEqual(names.commonNames, ['SAE_A']);
  assert.deepEqual(names.uris, ['urn:example:sae:SAE_A']);
  assert.deepEqual(names.dnsNames, ['sae-a.example']);
  assert.equal(names.serialNumber, cert.serialNumber.toLowerCase());

  const plain = new X509Certificate((await issueSaeCertificate(authority, { saeId: 'SAE_B' })).certificatePem);
  assert.equal(plain.subjectAltName, undefined);
});

test('validity can be set in the past or the future, for tests of refused certificates', async () => {
  const authority = await testCa();
  const expired = new X509Certificate(
    (await issueSaeCertificate(authority, { saeId: 'OLD', notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) })).certificatePem,
  );
  assert.ok(Date.parse(expired.validTo) < Date.now());
  const early = new X509Certificate((await issueSaeCertificate(authority, { saeId: 'NEW', notBefore: new Date(Date.now() + day), days: 2 })).certificatePem);
  assert.ok(Date.parse(early.validFrom) > Date.now());
  await assert.rejects(issueSaeCertificate(authority, { saeId: 'X', notBefore: new Date(), notAfter: new Date(Date.now() - day) }), /end after it begins/);
});

test('a CRL is signed by the CA, lists the revoked serials and carries its number', async () => {
  const authority = await testCa();
  const sae = await issueSaeCertificate(authority, { saeId: 'SAE_REVOKED' });
  const serial = certificateNames(sae.certificatePem).serialNumber;
  const pem = await createCrl(authority, { revoked: [{ serialNumber: serial, revokedAt: new Date() }], crlNumber: 3, days: 7 });
  assert.match(pem, /^-----BEGIN X509 CRL-----/);
  const crl = new x509.X509Crl(pem);
  assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(authority.certificatePem) }), 'signed by the CA');
  assert.equal(crl.issuer, 'CN=Test CA');
  const parsed = parseCrl(pem);
  assert.deepEqual(parsed.revoked.map((r) => r.serialNumber), [serial]);
  assert.equal(parsed.crlNumber, 3);
  assert.equal(Math.round(((parsed.nextUpdate?.getTime() ?? 0) - parsed.thisUpdate.getTime()) / day), 7);
});
