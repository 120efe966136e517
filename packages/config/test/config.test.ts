import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, envExample, loadConfig, settings } from '../src/index.ts';

test('defaults apply when nothing is set', () => {
  const config = loadConfig({});
  assert.equal(config.VIGIL_HTTP_PORT, 8080);
  assert.equal(config.NATS_URL, undefined);
  assert.equal(config.DATABASE_URL, undefined);
  assert.deepEqual(config.VIGIL_CORS_ORIGINS, []);
  assert.equal(config.LOG_LEVEL, 'info');
});

test('values are parsed to their types', () => {
  const config = loadConfig({
    NATS_URL: 'nats://a:4222, nats://b:4222',
    VIGIL_HTTP_PORT: '9000',
    VIGIL_TRUST_PROXY: 'yes',
    VIGIL_CORS_ORIGINS: 'https://a.example,https://b.example',
  });
  assert.deepEqual(config.NATS_URL, ['nats://a:4222', 'nats://b:4222']);
  assert.equal(config.VIGIL_HTTP_PORT, 9000);
  assert.equal(config.VIGIL_TRUST_PROXY, true);
  assert.deepEqual(config.VIGIL_CORS_ORIGINS, ['https://a.example', 'https://b.example']);
});

test('every bad value is reported at once, each naming its variable', () => {
  assert.throws(
    () => loadConfig({ VIGIL_HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', NATS_URL: 'http://x:4222' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => p.variable).sort(),
        ['DATABASE_URL', 'LOG_LEVEL', 'NATS_URL', 'VIGIL_HTTP_PORT'],
      );
      assert.match(err.message, /VIGIL_HTTP_PORT: must be a whole number from 0 to 65535 \(got "eighty"\)/);
      assert.match(err.message, /LOG_LEVEL: must be one of/);
      return true;
    },
  );
});

test('a port out of range names the variable', () => {
  assert.throws(() => loadConfig({ VIGIL_HTTP_PORT: '70000' }), /VIGIL_HTTP_PORT/);
});

test('.env.example documents exactly the settings, and is up to date', () => {
  const file = readFileSync(join(import.meta.dirname, '..', '..', '..', '.env.example'), 'utf8');
  assert.equal(file, envExample(), 'regenerate with: pnpm env:example');
  for (const name of Object.keys(settings)) assert.match(file, new RegExp(`^#? ?${name}=`, 'm'));
});

test('the read-model schema is a plain lowercase SQL identifier, public by default', () => {
  assert.equal(loadConfig({}).VIGIL_READ_MODEL_SCHEMA, 'public');
  assert.equal(loadConfig({ VIGIL_READ_MODEL_SCHEMA: 'rm_2026_11' }).VIGIL_READ_MODEL_SCHEMA, 'rm_2026_11');
  for (const bad of ['RM', 'rm-b', '1rm', 'rm b', '"rm"', 'pg_rm', 'a'.repeat(64)]) {
    assert.throws(() => loadConfig({ VIGIL_READ_MODEL_SCHEMA: bad }), /VIGIL_READ_MODEL_SCHEMA: must be a lowercase SQL identifier/, bad);
  }
});
