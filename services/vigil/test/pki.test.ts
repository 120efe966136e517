import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCertificateAuthority, issueSaeCertificate, parseCrl } from '@vigil/pki';

const cli = join(import.meta.dirname, '..', 'src', 'cli.ts');
const root = join(import.meta.dirname, '..', '..', '..');
const day = 24 * 60 * 60 * 1000;

/** `vigil pki ...` as an operator runs it: a child process; its exit code and output. */
function vigilPki(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'pki', ...args], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function certificate(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path));
}

let work: string;
let dir: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'vigil-pki-cli-'));
  dir = join(work, 'pki');
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Each call is a child process that loads TypeScript: slow on a busy machine, hence the generous timeouts. */
const slow = { timeout: 180_000 };

describe('vigil pki', () => {
  test('--help on the command and on every subcommand', slow, async () => {
    const subcommands = ['init', 'server', 'sae', 'revoke', 'crl'];
    const [top, unknown, ...helps] = await Promise.all([vigilPki('--help'), vigilPki('frobnicate'), ...subcommands.map((sub) => vigilPki(sub, '--help'))]);
    assert.equal(top?.code, 0);
    assert.match(top?.out ?? '', /usage: vigil pki <subcommand>/);
    assert.equal(unknown?.code, 2);
    subcommands.forEach((sub, i) => {
      assert.equal(helps[i]?.code, 0, helps[i]?.err);
      assert.match(helps[i]?.out ?? '', new RegExp(`^usage: vigil pki ${sub}`));
    });
  });

  test('init: a CA, its CRL and a server certificate for localhost; keys 0600; never replaces the CA', slow, async () => {
    const r = await vigilPki('init', '--dir', dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /VIGIL_TLS_CA_FILE=.*ca\.crt/);
    const ca = await certificate(join(dir, 'ca.crt'));
    assert.equal(ca.ca, true);
    const server = await certificate(join(dir, 'server.crt'));
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.equal(server.checkHost('localhost'), 'localhost');
    assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1');
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(await modeOf(join(dir, 'ca.key')), 0o600);
    assert.equal(await modeOf(join(dir, 'server.key')), 0o600);
    assert.deepEqual(parseCrl(await readFile(join(dir, 'ca.crl'), 'utf8')).revoked, []);
    assert.doesNotMatch(r.out + r.err, /PRIVATE KEY/);

    const again = await vigilPki('init', '--dir', dir);
    assert.equal(again.code, 1);
    assert.match(again.err, /holds a CA already/);
    assert.equal((await certificate(join(dir, 'ca.crt'))).fingerprint256, ca.fingerprint256);
  });

  test('init with other names and an RSA-3072 key', slow, async () => {
    const other = join(work, 'rsa');
    const r = await vigilPki('init', '--dir', other, '--dns', 'kme-a.example', '--ip', '10.0.0.7', '--key', 'rsa-3072');
    assert.equal(r.code, 0, r.err);
    const server = await certificate(join(other, 'server.crt'));
    assert.equal(server.subjectAltName, 'DNS:kme-a.example, IP Address:10.0.0.7');
    assert.equal((await certificate(join(other, 'ca.crt'))).publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    assert.equal((await vigilPki('init', '--dir', join(work, 'x'), '--key', 'dsa')).code, 2);
  });

  test('sae: CN = SAE_ID, SANs, validity, key 0600, and the fingerprint printed', slow, async () => {
    const r = await vigilPki('sae', 'SAE_A', '--dir', dir, '--uri-san', 'urn:example:sae:SAE_A', '--dns-san', 'sae-a.example', '--days', '10');
    assert.equal(r.code, 0, r.err);
    const cert = await certificate(join(dir, 'SAE_A.crt'));
    assert.equal(cert.subject, 'CN=SAE_A');
    assert.equal(cert.subjectAltName, 'URI:urn:example:sae:SAE_A, DNS:sae-a.example');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / day), 10);
    assert.ok(cert.verify((await certificate(join(dir, 'ca.crt'))).publicKey));
    assert.equal(await modeOf(join(dir, 'SAE_A.key')), 0o600);
    const printed = /sha256\s+([0-9a-f]{64})/.exec(r.out)?.[1];
    assert.equal(printed, cert.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.doesNotMatch(r.out + r.err, /PRIVATE KEY/);
  });

  test('sae refuses to overwrite without --force, and refuses what is not an SAE_ID', slow, async () => {
    const before = (await certificate(join(dir, 'SAE_A.crt'))).fingerprint256;
    const again = await vigilPki('sae', 'SAE_A', '--dir', dir);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists/);
    assert.equal((await certificate(join(dir, 'SAE_A.crt'))).fingerprint256, before);
    assert.equal((await vigilPki('sae', 'SAE_A', '--dir', dir, '--force')).code, 0);
    assert.notEqual((await certificate(join(dir, 'SAE_A.crt'))).fingerprint256, before);
    const bad = ['../evil', 'a b', ''];
    const [dotFile, negativeDays, noCa, ...refused] = await Promise.all([
      vigilPki('sae', '.hidden', '--dir', dir),
      vigilPki('sae', 'SAE_B', '--dir', dir, '--days', '-3'),
      vigilPki('sae', 'SAE_B', '--dir', join(work, 'no-ca')),
      ...bad.map((id) => vigilPki('sae', id, '--dir', dir)),
    ]);
    refused.forEach((r, i) => assert.equal(r.code, 2, bad[i]));
    assert.equal(dotFile?.code, 1);
    assert.match(dotFile?.err ?? '', /cannot be the file name/);
    assert.equal(negativeDays?.code, 2);
    assert.equal(noCa?.code, 1);
  });

  test('revoke: the serial goes on ca.crl once; a certificate of another CA is refused', slow, async () => {
    const cert = await certificate(join(dir, 'SAE_A.crt'));
    const r = await vigilPki('revoke', join(dir, 'SAE_A.crt'), '--dir', dir);
    assert.equal(r.code, 0, r.err);
    const crl = parseCrl(await readFile(join(dir, 'ca.crl'), 'utf8'));
    assert.deepEqual(crl.revoked.map((e) => e.serialNumber), [cert.serialNumber.toLowerCase()]);
    assert.equal(crl.crlNumber, 2);
    const again = await vigilPki('revoke', join(dir, 'SAE_A.crt'), '--dir', dir);
    assert.equal(again.code, 0);
    assert.match(again.out, /revoked already/);
    assert.equal(parseCrl(await readFile(join(dir, 'ca.crl'), 'utf8')).crlNumber, 2);

    const stranger = await issueSaeCertificate(await createCertificateAuthority(), { saeId: 'SAE_X' });
    await writeFile(join(work, 'stranger.crt'), stranger.certificatePem);
    const refused = await vigilPki('revoke', join(work, 'stranger.crt'), '--dir', dir);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /not issued by the CA/);
    assert.equal((await vigilPki('revoke', join(work, 'missing.crt'), '--dir', dir)).code, 1);
  });

  test('server: a new server certificate for the names given', slow, async () => {
    const r = await vigilPki('server', '--dir', dir, '--dns', 'kme.example', '--ip', '192.0.2.10');
    assert.equal(r.code, 0, r.err);
    assert.equal((await certificate(join(dir, 'server.crt'))).subjectAltName, 'DNS:kme.example, IP Address:192.0.2.10');
    assert.equal(await modeOf(join(dir, 'server.key')), 0o600);
    assert.equal((await vigilPki('server', '--dir', dir)).code, 2);
  });

  test('crl: issued again with the same entries, one number higher, a new nextUpdate', slow, async () => {
    const before = parseCrl(await readFile(join(dir, 'ca.crl'), 'utf8'));
    const r = await vigilPki('crl', '--dir', dir, '--days', '30');
    assert.equal(r.code, 0, r.err);
    const after = parseCrl(await readFile(join(dir, 'ca.crl'), 'utf8'));
    assert.deepEqual(after.revoked.map((e) => e.serialNumber), before.revoked.map((e) => e.serialNumber));
    assert.equal(after.crlNumber, before.crlNumber + 1);
    assert.equal(Math.round(((after.nextUpdate?.getTime() ?? 0) - after.thisUpdate.getTime()) / day), 30);
  });
});
