// Recovery codes and turning TOTP off, end to end: real HTTP clients, two edges, one worker, real NATS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode, totpStep } from '@vigil/crypto';
import { StreamName } from '@vigil/schemas';
import { call, startIdentity, storedMessages, text, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edgeA: string;
let edgeB: string;
const ownerPassword = 'the boss of mfa has a long phrase';
const miaPassword = 'she keeps a long pass phrase here';
const shown: string[] = [];
let secret = '';
let step = 0;
let codes: string[] = [];
let mia: { access: string };

async function login(url: string) {
  return call(url, 'POST', '/auth/login', { tenant: 'mfa', username: 'mia', password: miaPassword });
}

async function challenge(url = edgeA): Promise<string> {
  const res = await login(url);
  assert.equal(res.body['status'], 'mfa_required', JSON.stringify(res.body));
  return text(res.body['mfa_token']);
}

function codesOf(body: Record<string, unknown>): string[] {
  const list = body['recovery_codes'];
  assert.ok(Array.isArray(list), JSON.stringify(body));
  const out = list.map((c) => text(c));
  shown.push(...out);
  return out;
}

before(async () => {
  // Failed codes count toward the lockout; the concurrency test below fails five at once on purpose.
  t = await startIdentity({ VIGIL_LOCKOUT_THRESHOLD: '20' });
  edgeA = (await t.edge()).url;
  edgeB = (await t.edge()).url;
  await t.worker.createTenant({ tenant_id: 'mfa', name: 'MFA', owner: { username: 'owner', email: 'owner@mfa.example', password: ownerPassword } });
  await t.worker.createUser('mfa', { username: 'mia', email: 'mia@mfa.example', password: miaPassword, roles: ['operator'] });
  const signedIn = await login(edgeA);
  mia = { access: text(signedIn.body['access_token']) };
});
after(async () => {
  await t.close();
});

describe('recovery codes', () => {
  test('confirming TOTP answers ten codes, shown once; each signs in once instead of a TOTP code, at any edge', async () => {
    const enrolled = await call(edgeA, 'POST', '/auth/mfa/enroll', undefined, mia.access);
    secret = text(enrolled.body['secret']);
    step = totpStep(Date.now());
    const confirmed = await call(edgeA, 'POST', '/auth/mfa/confirm', { code: totpCode(secret, step) }, mia.access);
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.headers.get('cache-control'), 'no-store');
    codes = codesOf(confirmed.body);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes) assert.match(c, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);

    const first = codes[0] ?? '';
    const ok = await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: await challenge(), recovery_code: first.toUpperCase() });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body['status'], 'authenticated');
    const again = await call(edgeB, 'POST', '/auth/mfa/verify', { mfa_token: await challenge(edgeB), recovery_code: first });
    assert.equal(again.status, 401, 'a code works once');
    assert.equal(again.body['code'], 'VGL_MFA_FAILED');
    const both = await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: await challenge(), code: '123456', recovery_code: codes[1] });
    assert.equal(both.status, 400, 'a TOTP code or a recovery code, not both');
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: await challenge() })).status, 400, 'nor neither');
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: await challenge(), recovery_code: 'not a code' })).status, 400);

    const used = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.recovery_code_used');
    assert.deepEqual(used.map((e) => [e.data['remaining'], e.data['severity']]), [[9, 'warning']]);
  });

  test('of 6 concurrent sign-ins with the same code, exactly one gets in (settled on the user’s subject)', async () => {
    const code = codes[2] ?? '';
    const challenges = await Promise.all(Array.from({ length: 6 }, (_, i) => challenge(i % 2 === 0 ? edgeA : edgeB)));
    const answers = await Promise.all(challenges.map((mfaToken, i) => call(i % 2 === 0 ? edgeA : edgeB, 'POST', '/auth/mfa/verify', { mfa_token: mfaToken, recovery_code: code })));
    assert.deepEqual(
      answers.map((a) => a.status).sort(),
      [200, 401, 401, 401, 401, 401],
    );
  });

  test('new codes need the password and a second factor, each counted like a sign-in; every earlier code stops working', async () => {
    const wrongPassword = await call(edgeA, 'POST', '/auth/mfa/recovery-codes', { current_password: 'not mia’s long pass phrase', code: totpCode(secret, step + 1) }, mia.access);
    assert.equal(wrongPassword.status, 401);
    assert.equal(wrongPassword.body['code'], 'VGL_AUTHENTICATION_FAILED');
    const wrongCode = await call(edgeA, 'POST', '/auth/mfa/recovery-codes', { current_password: miaPassword, recovery_code: codes[0] }, mia.access);
    assert.equal(wrongCode.status, 401, 'a spent recovery code');
    assert.equal(wrongCode.body['code'], 'VGL_MFA_FAILED');
    const renewed = await call(edgeB, 'POST', '/auth/mfa/recovery-codes', { current_password: miaPassword, code: totpCode(secret, step + 1) }, mia.access);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    const fresh = codesOf(renewed.body);
    assert.equal(fresh.length, 10);
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: await challenge(), recovery_code: codes[3] })).status, 401, 'an earlier unused code');
    assert.equal((await call(edgeA, 'POST', '/auth/mfa/verify', { mfa_token: await challenge(), recovery_code: fresh[0] })).status, 200);
    codes = fresh;
  });
});

describe('turning TOTP off', () => {
  test('needs a session (not an API key), the password and a second factor; then the password alone signs in; audited', async () => {
    const key = await call(edgeA, 'POST', '/api-keys', { name: 'k', permissions: ['profile:self'], expires_at: new Date(Date.now() + 86_400_000).toISOString(), rate_limit_per_minute: 100 }, mia.access);
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const byKey = await call(edgeA, 'POST', '/auth/mfa/disable', { current_password: miaPassword, recovery_code: codes[1] }, text(key.body['key']));
    assert.equal(byKey.status, 403);
    const wrong = await call(edgeA, 'POST', '/auth/mfa/disable', { current_password: miaPassword, code: '000000' }, mia.access);
    assert.equal(wrong.status, 401);
    assert.equal((await login(edgeA)).body['status'], 'mfa_required', 'still on');
    const off = await call(edgeA, 'POST', '/auth/mfa/disable', { current_password: miaPassword, recovery_code: codes[1] }, mia.access);
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const plain = await login(edgeB);
    assert.equal(plain.status, 200);
    assert.equal(plain.body['status'], 'authenticated');
    const again = await call(edgeA, 'POST', '/auth/mfa/disable', { current_password: miaPassword, recovery_code: codes[2] }, mia.access);
    assert.equal(again.status, 409);
    assert.equal(again.body['code'], 'VGL_MFA_STATE');
    const changes = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.mfa_changed').map((e) => e.data['change']);
    assert.deepEqual(changes, ['enabled', 'recovery_codes_regenerated', 'disabled']);
    const failures = (await recorded(StreamName.Audit)).filter((e) => e.type === 'audit.auth.login_failed').map((e) => [e.data['factor'], e.data['reason']]);
    assert.ok(failures.some(([f, r]) => f === 'recovery_code' && r === 'replayed'), JSON.stringify(failures));
  });

  test('no recovery code or TOTP secret in any log line or stored event', async () => {
    const stored = (await storedMessages(t.testBus.bus, StreamName.AuthEvent)).join('\n') + (await storedMessages(t.testBus.bus, StreamName.Audit)).join('\n');
    assert.ok(shown.length >= 20);
    for (const needle of [...shown, ...shown.map((c) => c.replaceAll('-', '')), secret, miaPassword]) {
      assert.equal(t.logs.text.includes(needle), false, `in the logs: ${needle.slice(0, 4)}…`);
      assert.equal(stored.includes(needle), false, `in a stream: ${needle.slice(0, 4)}…`);
    }
  });
});

async function recorded(name: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  return (await storedMessages(t.testBus.bus, name)).flatMap((line) => {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string' && 'data' in v && typeof v.data === 'object' && v.data !== null
      ? [{ type: v.type, data: Object.fromEntries(Object.entries(v.data)) }]
      : [];
  });
}
