import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const main = join(import.meta.dirname, '..', 'src', 'main.ts');
const root = join(import.meta.dirname, '..', '..', '..');

function startVigil(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => out, errors: () => err };
}

async function waitForMatch(read: () => string, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = read().match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${read()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('pnpm start comes up on the embedded defaults, is ready, and stops cleanly on SIGINT', { timeout: 90_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-start-'));
  try {
    const vigil = startVigil({ VIGIL_DATA_DIR: dataDir, VIGIL_HTTP_PORT: '0', VIGIL_ETSI_PORT: '0', VIGIL_MQTT_PORT: '0', LOG_LEVEL: 'warn' });
    const [, url] = await waitForMatch(() => vigil.output(), /edge\s+(http:\/\/\S+)/, 60_000);
    assert.ok(url);
    assert.match(vigil.output(), /PGlite in /);
    const ready = await fetch(`${url}/health/ready`);
    assert.equal(ready.status, 200, await ready.text());
    const stopAsked = Date.now();
    vigil.child.kill('SIGINT');
    const { code } = await vigil.exited;
    assert.equal(code, 0, vigil.errors());
    assert.ok(Date.now() - stopAsked < 10_000, 'stopped within a few seconds');

    // The streams and the read models survive the restart: same data directory, ready again.
    const again = startVigil({ VIGIL_DATA_DIR: dataDir, VIGIL_HTTP_PORT: '0', VIGIL_ETSI_PORT: '0', VIGIL_MQTT_PORT: '0', LOG_LEVEL: 'warn' });
    const [, url2] = await waitForMatch(() => again.output(), /edge\s+(http:\/\/\S+)/, 60_000);
    assert.equal((await fetch(`${url2}/health/ready`)).status, 200);
    again.child.kill('SIGTERM');
    assert.equal((await again.exited).code, 0, again.errors());
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a bad setting stops the start with one line naming the variable', { timeout: 30_000 }, async () => {
  const vigil = startVigil({ VIGIL_HTTP_PORT: 'eighty' });
  const { code } = await vigil.exited;
  assert.equal(code, 1);
  assert.match(vigil.errors(), /VIGIL_HTTP_PORT: must be a whole number/);
  assert.doesNotMatch(vigil.errors(), /at .*\.ts:\d+/, 'no stack trace');
});

test('a missing nats-server is one line saying how to install it', { timeout: 30_000 }, async () => {
  const vigil = startVigil({ PATH: '/nonexistent', VIGIL_DATA_DIR: join(tmpdir(), 'vigil-nonats') });
  const { code } = await vigil.exited;
  assert.equal(code, 1);
  assert.match(vigil.errors(), /nats-server was not found on PATH\. Install it/);
});
