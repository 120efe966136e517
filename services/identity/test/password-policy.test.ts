import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commonPasswordCount, passwordProblem } from '../src/password-policy.ts';
import { newRefreshToken, refreshTokenSession } from '../src/refresh-token.ts';

const policy = { minLength: 12, maxLength: 128 };

test('ASVS: a length floor, 64+ allowed, no composition rules, any Unicode and spaces', () => {
  assert.match(passwordProblem('short pass', policy) ?? '', /at least 12/);
  assert.equal(passwordProblem('all lowercase words here', policy), undefined);
  assert.equal(passwordProblem('x'.repeat(64) + 'y'.repeat(64), policy), undefined);
  assert.match(passwordProblem('x'.repeat(129), policy) ?? '', /at most 128/);
  assert.equal(passwordProblem('пароль с пробелами', policy), undefined);
  assert.equal(passwordProblem('🔒🔒🔒🔒🔒🔒🔒🔒🔒🔒🔒🔒', policy), undefined, '12 characters, though 48 bytes');
});

test('common passwords are refused whatever their case, and so is the username', () => {
  assert.ok(commonPasswordCount() > 10_000);
  assert.match(passwordProblem('Password1234', policy) ?? '', /common/);
  assert.match(passwordProblem('QWERTYUIOP123', policy) ?? '', /common/);
  assert.match(passwordProblem('password', { ...policy, minLength: 8 }) ?? '', /common/);
  assert.match(passwordProblem('alice-is-my-name', policy, { username: 'alice' }) ?? '', /username/);
});

test('a refresh token names its tenant and session and carries 256 random bits', () => {
  const session = '01890a5d-ac96-774b-bcce-b302099a8057';
  const { token, sha256 } = newRefreshToken('acme', session);
  assert.deepEqual(refreshTokenSession(token), { tenant: 'acme', sessionId: session });
  assert.match(sha256, /^[0-9a-f]{64}$/);
  assert.equal(refreshTokenSession(`${token}x`), undefined);
  assert.equal(refreshTokenSession('acme.not-a-session.abc'), undefined);
});
