import { createPrivateKey, webcrypto } from 'node:crypto';
import { x509 } from './x509.ts';

/** The key types this PKI issues: EC P-256 (the default: small and fast) or RSA-3072. */
export type KeyAlgorithm = 'ec-p256' | 'rsa-3072';
export const keyAlgorithms: readonly KeyAlgorithm[] = ['ec-p256', 'rsa-3072'];

type KeyParams = webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;

const ecP256: webcrypto.EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const rsa3072Import: webcrypto.RsaHashedImportParams = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

/** What a signature with a key of this algorithm is made with (SHA-256 throughout). */
export type SigningAlgorithm = webcrypto.EcdsaParams | webcrypto.Algorithm;

export interface KeyPair {
  readonly algorithm: KeyAlgorithm;
  readonly keys: webcrypto.CryptoKeyPair;
}

export function signingAlgorithmOf(algorithm: KeyAlgorithm): SigningAlgorithm {
  return algorithm === 'ec-p256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

/** A fresh key pair; the private key is extractable only so it can be written to its PEM file. */
export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  const params =
    algorithm === 'ec-p256'
      ? ecP256
      : { ...rsa3072Import, modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]) };
  const keys = await webcrypto.subtle.generateKey(params, true, ['sign', 'verify']);
  return { algorithm, keys };
}

/** PKCS#8 PEM ("PRIVATE KEY"), the form Node's TLS and OpenSSL read. */
export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A signing key from its PEM (PKCS#8, or the SEC1/PKCS#1 forms OpenSSL writes), with its algorithm. */
export async function importSigningKey(pem: string): Promise<{ algorithm: KeyAlgorithm; key: webcrypto.CryptoKey }> {
  const keyObject = createPrivateKey(pem);
  const details = keyObject.asymmetricKeyDetails;
  let algorithm: KeyAlgorithm;
  let params: KeyParams;
  if (keyObject.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') {
    algorithm = 'ec-p256';
    params = ecP256;
  } else if (keyObject.asymmetricKeyType === 'rsa' && details?.modulusLength === 3072) {
    algorithm = 'rsa-3072';
    params = rsa3072Import;
  } else {
    throw new Error(`unsupported key: ${keyObject.asymmetricKeyType ?? 'unknown'} ${details?.namedCurve ?? details?.modulusLength ?? ''} (expected EC P-256 or RSA-3072)`);
  }
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  return { algorithm, key: await webcrypto.subtle.importKey('pkcs8', der, params, false, ['sign']) };
}
