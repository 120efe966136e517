import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger, securityLogger, withContext } from '../src/index.ts';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
  });
  return { stream, lines };
}

test('secrets are censored at the top level and nested two objects deep', () => {
  const { stream, lines } = capture();
  const log = createLogger({ service: 'test', destination: stream });
  log.info({ password: 'hunter2hunter2', user: { email: 'a@b.example', token: 't0k' }, req: { headers: { authorization: 'Bearer x' } } }, 'login');
  log.info({ body: { deep: { refresh_token: 'rt' } } }, 'nested');
  const text = JSON.stringify(lines);
  for (const secret of ['hunter2hunter2', 'a@b.example', 't0k', 'Bearer x', '"rt"']) assert.ok(!text.includes(secret), `${secret} leaked`);
  assert.equal(lines[0]?.['password'], '[redacted]');
});

test('error codes are not mistaken for secrets', () => {
  const { stream, lines } = capture();
  const log = createLogger({ service: 'test', destination: stream });
  log.error({ err: Object.assign(new Error('boom'), { code: 'VGL_X' }) }, 'failed');
  const err = lines[0]?.['err'];
  assert.ok(err && typeof err === 'object' && 'code' in err && err.code === 'VGL_X');
});

test('lines written inside a work context carry its correlation and request ids', async () => {
  const { stream, lines } = capture();
  const log = createLogger({ service: 'test', destination: stream });
  await withContext({ correlationId: 'corr-1', requestId: 'req-1' }, async () => {
    await Promise.resolve();
    securityLogger(log, 'authentication').warn('denied');
  });
  log.info('outside');
  assert.equal(lines[0]?.['correlation_id'], 'corr-1');
  assert.equal(lines[0]?.['request_id'], 'req-1');
  assert.equal(lines[0]?.['category'], 'authentication');
  assert.equal(lines[1]?.['correlation_id'], undefined);
});
