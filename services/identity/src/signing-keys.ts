import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Jwks } from '@vigil/identity-contract';

type PublicJwk = Jwks['keys'][number];

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

/** The keys that sign tokens: `current` signs; every key (current and retired) is published, so old tokens verify. */
export interface SigningKeys {
  readonly current: SigningKey;
  readonly publicKeys: readonly PublicJwk[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function publicJwkOf(kid: string, privateKey: KeyObject): PublicJwk {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error(`signing key ${kid} is not Ed25519`);
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
}

/**
 * Reads `{ "current": "<kid>", "keys": [ { "kid", "kty": "OKP", "crv": "Ed25519", "x", "d" }, ... ] }`. Rotation:
 * add a key, point `current` at it, restart the identity workers; remove the old key once the access tokens it
 * signed have expired (VIGIL_ACCESS_TOKEN_SECONDS). Edges learn the new set over the bus.
 */
export function loadSigningKeys(path: string): SigningKeys {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const shape = `${path}: expected {"current": kid, "keys": [Ed25519 private JWK with kid, ...]}`;
  if (!isRecord(parsed) || typeof parsed['current'] !== 'string' || !Array.isArray(parsed['keys'])) throw new Error(shape);
  const keys: SigningKey[] = [];
  for (const k of parsed['keys']) {
    if (!isRecord(k) || typeof k['kid'] !== 'string' || typeof k['d'] !== 'string' || typeof k['x'] !== 'string') throw new Error(shape);
    const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k['x'], d: k['d'] }, format: 'jwk' });
    keys.push({ kid: k['kid'], privateKey });
  }
  const current = keys.find((k) => k.kid === parsed['current']);
  if (!current) throw new Error(`${path}: current key ${String(parsed['current'])} is not among the keys`);
  return { current, publicKeys: keys.map((k) => publicJwkOf(k.kid, k.privateKey)) };
}

function newKeyJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { kid, ...privateKey.export({ format: 'jwk' }) };
}

/** Writes a new signing keys file readable by its owner only; refuses to overwrite one. */
export function createSigningKeysFile(path: string, kid = `k${Date.now().toString(36)}`): void {
  if (existsSync(path)) throw new Error(`${path} exists already`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ current: kid, keys: [newKeyJwk(kid)] }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

/** Adds a new key and makes it current, keeping the others so tokens they signed still verify. */
export function rotateSigningKeysFile(path: string, kid = `k${Date.now().toString(36)}`): void {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(parsed) || !Array.isArray(parsed['keys'])) throw new Error(`${path}: not a signing keys file`);
  writeFileSync(path, `${JSON.stringify({ current: kid, keys: [...parsed['keys'], newKeyJwk(kid)] }, null, 2)}\n`, { mode: 0o600 });
}
