import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..', '..');
const baseEnv = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' };

/** A Vigil script as a child process; `seen(pattern)` waits for a line of its output to match. */
function run(script: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], { cwd: root, env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const seen = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms in:\n${out}\n${err}`)), timeoutMs);
      const look = () => {
        const m = out.match(pattern);
        if (!m) return;
        clearTimeout(timer);
        child.stdout.off('data', look);
        resolve(m);
      };
      child.stdout.on('data', look);
      look();
    });
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  return { child, exited, seen, errors: () => err };
}

/** One HTTPS request with (or without) a client certificate; the status and body, or the error. */
function get(url: string, tls: { ca: string; cert?: string; key?: string }): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (err) => resolve(err));
    req.end();
  });
}

test('pnpm start serves the ETSI API over mutual TLS with its development PKI; `vigil pki sae` makes a client', { timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-pki-start-'));
  try {
    const env = { VIGIL_DATA_DIR: dataDir, VIGIL_HTTP_PORT: '0', VIGIL_ETSI_PORT: '0', VIGIL_MQTT_PORT: '0', LOG_LEVEL: 'warn' };
    const vigil = run('services/vigil/src/main.ts', [], env);
    const [, etsiUrl] = await vigil.seen(/edge\s+(https:\/\/\S+)\s+\(ETSI/, 90_000);
    const [, pkiDir] = await vigil.seen(/development PKI in (\S+)/, 5000);
    assert.ok(etsiUrl && pkiDir);
    assert.equal(pkiDir, join(dataDir, 'pki'));

    const sae = run('services/vigil/src/cli.ts', ['pki', 'sae', 'SAE_A', '--dir', pkiDir], {});
    assert.equal(await sae.exited, 0, sae.errors());
    const ca = await readFile(join(pkiDir, 'ca.crt'), 'utf8');
    const tls = { ca, cert: await readFile(join(pkiDir, 'SAE_A.crt'), 'utf8'), key: await readFile(join(pkiDir, 'SAE_A.key'), 'utf8') };

    // SAE_A is in no topology yet: the KME answers, in the ETSI error format, over a verified connection.
    const answered = await get(`${etsiUrl}/api/v1/keys/SAE_B/status`, tls);
    assert.ok(!(answered instanceof Error), String(answered));
    assert.ok([400, 401, 503].includes(answered.status), answered.body);
    const body: unknown = JSON.parse(answered.body);
    assert.ok(typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string', answered.body);

    assert.ok((await get(`${etsiUrl}/api/v1/keys/SAE_B/status`, { ca })) instanceof Error, 'no client certificate: refused');

    vigil.child.kill('SIGINT');
    assert.equal(await vigil.exited, 0, vigil.errors());

    // The next start keeps the CA, so the SAE certificate issued against it still works.
    const again = run('services/vigil/src/main.ts', [], env);
    const [, url2] = await again.seen(/edge\s+(https:\/\/\S+)\s+\(ETSI/, 90_000);
    const second = await get(`${url2}/api/v1/keys/SAE_B/status`, tls);
    assert.ok(!(second instanceof Error), String(second));
    assert.equal(await readFile(join(pkiDir, 'ca.crt'), 'utf8'), ca);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0, again.errors());
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
