import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadKekRing } from '@vigil/kme-contract';
import { createCrl, loadCa, parseCrl } from '@vigil/pki';
import { developmentSecrets } from '../src/dev-secrets.ts';

let dataDir: string;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vigil-dev-secrets-'));
});
after(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

test('unset: a KEK file and a development PKI are made in the data directory and handed to the config', async () => {
  const secrets = await developmentSecrets({ VIGIL_DATA_DIR: dataDir });
  const pki = join(dataDir, 'pki');
  assert.deepEqual(secrets.env, {
    VIGIL_KME_KEK_FILE: join(dataDir, 'kme-kek.json'),
    VIGIL_TLS_CERT_FILE: join(pki, 'server.crt'),
    VIGIL_TLS_KEY_FILE: join(pki, 'server.key'),
    VIGIL_TLS_CA_FILE: join(pki, 'ca.crt'),
    VIGIL_TLS_CRL_FILE: join(pki, 'ca.crl'),
  });
  assert.equal(loadKekRing(join(dataDir, 'kme-kek.json')).current.key.length, 32);
  assert.equal((await stat(join(dataDir, 'kme-kek.json'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(pki, 'server.key'))).mode & 0o777, 0o600);
  const server = new X509Certificate(await readFile(join(pki, 'server.crt')));
  assert.equal(server.checkHost('localhost'), 'localhost');
  assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
  assert.deepEqual(parseCrl(await readFile(join(pki, 'ca.crl'), 'utf8')).revoked, []);
  assert.ok(secrets.notes.some((n) => n.includes(`pnpm vigil pki sae <SAE_ID> --dir ${pki}`)));
});

test('the next start keeps them (SAE certificates issued against the CA stay valid) and completes what is missing', async () => {
  const pki = join(dataDir, 'pki');
  const ca = await readFile(join(pki, 'ca.crt'), 'utf8');
  const kek = await readFile(join(dataDir, 'kme-kek.json'), 'utf8');
  await unlink(join(pki, 'server.key'));
  await developmentSecrets({ VIGIL_DATA_DIR: dataDir });
  assert.equal(await readFile(join(pki, 'ca.crt'), 'utf8'), ca);
  assert.equal(await readFile(join(dataDir, 'kme-kek.json'), 'utf8'), kek);
  const server = new X509Certificate(await readFile(join(pki, 'server.crt')));
  assert.ok(server.verify(new X509Certificate(ca).publicKey));
  assert.equal((await stat(join(pki, 'server.key'))).mode & 0o777, 0o600);
});

test('a CRL about to expire is issued again, with its entries', async () => {
  const pki = join(dataDir, 'pki');
  const entry = { serialNumber: '4a0b0c', revokedAt: new Date(Date.now() - 1000) };
  await writeFile(join(pki, 'ca.crl'), await createCrl(loadCa(pki), { revoked: [entry], crlNumber: 5, days: 1 }));
  await developmentSecrets({ VIGIL_DATA_DIR: dataDir });
  const crl = parseCrl(await readFile(join(pki, 'ca.crl'), 'utf8'));
  assert.deepEqual(crl.revoked.map((r) => r.serialNumber), ['4a0b0c']);
  assert.equal(crl.crlNumber, 6);
  assert.ok((crl.nextUpdate?.getTime() ?? 0) > Date.now() + 300 * 24 * 60 * 60 * 1000);
});

test('configured files are left alone: nothing is made for them', async () => {
  const other = await mkdtemp(join(tmpdir(), 'vigil-dev-secrets-own-'));
  try {
    const secrets = await developmentSecrets({ VIGIL_DATA_DIR: other, VIGIL_KME_KEK_FILE: '/etc/vigil/kek.json', VIGIL_TLS_CERT_FILE: '/etc/vigil/tls/server.crt' });
    assert.deepEqual(secrets.env, {});
    assert.deepEqual(secrets.notes, []);
  } finally {
    await rm(other, { recursive: true, force: true });
  }
});

test('a bad setting makes nothing: the start reports it', async () => {
  assert.deepEqual(await developmentSecrets({ VIGIL_DATA_DIR: dataDir, VIGIL_HTTP_PORT: 'eighty' }), { env: {}, notes: [] });
});
