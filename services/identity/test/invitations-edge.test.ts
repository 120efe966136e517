// Invitations end to end: real HTTP clients, an edge, one identity worker, real NATS. Invite, accept, sign in; every
// refusal of a token is one answer; of concurrent acceptances exactly one makes a user; nothing secret is kept.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, createEvent } from '@vigil/bus';
import { hashPassword, uuidv7 } from '@vigil/crypto';
import { InvitationAccepted, InvitationIssued, StreamName } from '@vigil/schemas';
import { newInvitationToken } from '../src/invitation-token.ts';
import { call, startIdentity, storedMessages, text, type IdentityUnderTest } from './harness.ts';

let t: IdentityUnderTest;
let edge: string;
let olive: string;
let adam: string;
const password: Record<string, string> = {
  olive: 'the owner of corp has a long phrase',
  adam: 'the admin of corp has a long phrase',
  vic: 'a viewer of corp with a long phrase',
  oscar: 'the owner of other has a long phrase',
};
const ids: Record<string, string> = {};
/** Every token shown, every invited e-mail address and every password chosen: none may reach a log line. */
const tokens: string[] = [];
const emails: string[] = [];
const chosen: string[] = [];

async function signIn(tenant: string, username: string, secret: string): Promise<{ status: number; access?: string }> {
  const res = await call(edge, 'POST', '/auth/login', { tenant, username, password: secret });
  return res.status === 200 ? { status: 200, access: text(res.body['access_token']) } : { status: res.status };
}

async function accessOf(tenant: string, username: string): Promise<string> {
  const res = await signIn(tenant, username, password[username] ?? '');
  assert.equal(res.status, 200, username);
  return res.access ?? '';
}

async function invite(token: string, email: string, roles: string[], extra: Record<string, unknown> = {}) {
  const res = await call(edge, 'POST', '/invitations', { email, roles, ...extra }, token);
  if (res.status === 201) {
    tokens.push(text(res.body['token']));
    emails.push(email);
  }
  return res;
}

async function invited(email: string, roles: string[], by = olive): Promise<{ id: string; token: string }> {
  const res = await invite(by, email, roles);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: text(res.body['invitation_id']), token: text(res.body['token']) };
}

async function accept(token: string, username: string, secret: string, url = edge) {
  chosen.push(secret);
  return call(url, 'POST', '/invitations/accept', { token, username, password: secret });
}

/** The objects of an array answered under `key`. */
function recordsOf(body: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const list = body[key];
  assert.ok(Array.isArray(list), `${key}: ${JSON.stringify(body)}`);
  return list.map((item: unknown) => {
    assert.ok(typeof item === 'object' && item !== null && !Array.isArray(item));
    return Object.fromEntries(Object.entries(item));
  });
}

async function pending(token: string): Promise<string[]> {
  const res = await call(edge, 'GET', '/invitations?limit=1000', undefined, token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return recordsOf(res.body, 'invitations').map((i) => String(i['id']));
}

const refusedAsInvalid = (res: { status: number; body: Record<string, unknown> }, what: string) => {
  assert.equal(res.status, 401, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body['code'], 'VGL_INVITATION_INVALID', what);
  assert.equal(res.body['detail'], 'invalid or expired invitation', what);
};

before(async () => {
  t = await startIdentity();
  edge = (await t.edge()).url;
  ids['olive'] = (await t.worker.createTenant({ tenant_id: 'corp', name: 'Corp', owner: { username: 'olive', email: 'olive@corp.example', password: password['olive'] ?? '' } })).owner_user_id;
  await t.worker.createTenant({ tenant_id: 'other', name: 'Other', owner: { username: 'oscar', email: 'oscar@other.example', password: password['oscar'] ?? '' } });
  olive = await accessOf('corp', 'olive');
  for (const [name, roles] of [
    ['adam', ['admin']],
    ['vic', ['viewer']],
  ] as const) {
    const res = await call(edge, 'POST', '/users', { username: name, email: `${name}@corp.example`, password: password[name], roles }, olive);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ids[name] = text(res.body['user_id']);
  }
  adam = await accessOf('corp', 'adam');
});
after(async () => {
  await t.close();
});

describe('inviting and joining', () => {
  test('invite, accept, sign in with the new account; listed while pending; the token works once; audited', async () => {
    const { id, token } = await invited('nina@corp.example', ['operator', 'viewer']);
    assert.match(token, /^vgi_corp_[0-9a-f-]{36}_[A-Za-z0-9_-]{43}$/);
    const listed = await call(edge, 'GET', '/invitations', undefined, olive);
    const entry = recordsOf(listed.body, 'invitations').find((i) => i['id'] === id);
    assert.ok(entry);
    const { created_at: createdAt, expires_at: expiresAt, ...shown } = entry;
    assert.deepEqual(shown, { id, email: 'nina@corp.example', roles: ['operator', 'viewer'], status: 'pending' });
    assert.ok(Math.abs(Date.parse(String(expiresAt)) - Date.parse(String(createdAt)) - 7 * 86_400_000) < 60_000, 'seven days by default');
    assert.ok(!JSON.stringify(listed.body).includes(token.slice(-43)), 'never the token');

    const joined = await accept(token, 'nina', 'she chose a long pass phrase');
    assert.equal(joined.status, 201, JSON.stringify(joined.body));
    assert.deepEqual(joined.body, { user_id: id, tenant: 'corp' });
    const nina = await signIn('corp', 'nina', 'she chose a long pass phrase');
    assert.equal(nina.status, 200);
    const user = recordsOf((await call(edge, 'GET', '/users?limit=1000', undefined, olive)).body, 'users').find((u) => u['id'] === id);
    assert.ok(user);
    assert.equal(user['email'], 'nina@corp.example', 'the invited e-mail address');
    assert.deepEqual(user['roles'], ['operator', 'viewer'], 'the invited roles');
    assert.ok(!(await pending(olive)).includes(id), 'accepted: no longer pending');

    refusedAsInvalid(await accept(token, 'nina2', 'she chose a long pass phrase'), 'the token again');
    refusedAsInvalid(await accept(token, 'nina', 'she chose a long pass phrase'), 'the same request again');
    assert.equal((await call(edge, 'DELETE', `/invitations/${id}`, undefined, olive)).status, 404, 'an accepted invitation is not revoked');

    const audit = (await events(StreamName.Audit)).filter((e) => e.type === 'audit.auth.invitation_changed' && e.data['invitation_id'] === id);
    assert.deepEqual(
      audit.map((e) => [e.data['change'], e.data['category'], e.data['user_id']]),
      [
        ['issued', 'administration', undefined],
        ['accepted', 'administration', id],
      ],
    );
  });

  test('refused with the one answer: not a token, an unknown one, a wrong secret, another tenant’s name in it', async () => {
    const { id, token } = await invited('tom@corp.example', ['viewer']);
    const secret = token.slice(-43);
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const [what, bad] of [
      ['not a token', 'hello'],
      ['unknown invitation', `vgi_corp_${uuidv7()}_${secret}`],
      ['wrong secret', `vgi_corp_${id}_${flipped}`],
      ['another tenant', `vgi_other_${id}_${secret}`],
      ['unknown tenant', `vgi_nowhere_${id}_${secret}`],
    ] as const) {
      refusedAsInvalid(await accept(bad, 'tommy', 'tom chose a long pass phrase'), what);
    }
    // A valid token then: the password policy and the username rules apply.
    const weak = await accept(token, 'tommy', 'password1234');
    assert.equal(weak.status, 400);
    assert.equal(weak.body['code'], 'VGL_PASSWORD_POLICY');
    assert.equal((await accept(token, 'tommy', 'tom chose a long pass phrase')).status, 201);
  });

  test('expired: refused; an administrator may still revoke it', async () => {
    // An invitation issued long ago, as its events would stand (the routes allow at least a minute).
    const invitationId = uuidv7();
    const { token, sha256 } = newInvitationToken('corp', invitationId);
    tokens.push(token);
    const issued = createEvent(
      InvitationIssued,
      { invitation_id: invitationId, email_sha256: 'e'.repeat(64), email: { kek_id: 'k1', sealed: 'AAAA' }, roles: ['viewer'], expires_at: new Date(Date.now() - 1000).toISOString(), token_sha256: sha256 },
      { actor: { kind: 'user', id: ids['olive'] ?? '' }, tenant: 'corp' },
    );
    await append(t.testBus.bus, `auth.corp.invitation.${invitationId}`, issued);
    refusedAsInvalid(await accept(token, 'late', 'late chose a long pass phrase'), 'expired');
    assert.equal((await call(edge, 'DELETE', `/invitations/${invitationId}`, undefined, olive)).status, 200);
    refusedAsInvalid(await accept(token, 'late', 'late chose a long pass phrase'), 'expired and revoked');
  });

  test('revoked: refused; a revocation again is a no-op; gone from the list; audited', async () => {
    const { id, token } = await invited('rita@corp.example', ['viewer']);
    assert.ok((await pending(olive)).includes(id));
    assert.equal((await call(edge, 'DELETE', `/invitations/${id}`, undefined, adam)).status, 200);
    refusedAsInvalid(await accept(token, 'rita', 'rita chose a long pass phrase'), 'revoked');
    assert.equal((await call(edge, 'DELETE', `/invitations/${id}`, undefined, adam)).status, 200, 'again: a no-op');
    assert.ok(!(await pending(olive)).includes(id));
    const audit = (await events(StreamName.Audit)).filter((e) => e.type === 'audit.auth.invitation_changed' && e.data['invitation_id'] === id);
    assert.deepEqual(audit.map((e) => e.data['change']), ['issued', 'revoked']);
  });

  test('10 concurrent acceptances of one invitation: exactly one 201, one user; the others refused, their usernames untouched', async () => {
    const { id, token } = await invited('cora@corp.example', ['viewer']);
    const names = Array.from({ length: 10 }, (_, i) => `racer${i}`);
    const outcomes = await Promise.all(names.map((name) => accept(token, name, `the ${name.slice(-1)}th picked a long pass phrase`)));
    const won = outcomes.flatMap((o, i) => (o.status === 201 ? [names[i] ?? ''] : []));
    assert.equal(won.length, 1, JSON.stringify(outcomes.map((o) => o.status)));
    for (const o of outcomes.filter((x) => x.status !== 201)) refusedAsInvalid(o, 'a concurrent acceptance');
    const made = (await events(StreamName.AuthEvent)).filter((e) => e.type === 'auth.user.created' && e.data['user_id'] === id);
    assert.equal(made.length, 1, 'one user');
    const winner = won[0] ?? '';
    assert.equal((await signIn('corp', winner, `the ${winner.slice(-1)}th picked a long pass phrase`)).status, 200);
    const loser = names.find((n) => n !== winner) ?? '';
    const free = await call(edge, 'POST', '/users', { username: loser, email: `${loser}@corp.example`, password: 'a long phrase for the loser', roles: ['viewer'] }, olive);
    assert.equal(free.status, 201, `a loser’s username was never claimed: ${JSON.stringify(free.body)}`);
  });

  test('a username taken: 409 and the invitation stays open; then joined with another', async () => {
    const { id, token } = await invited('una@corp.example', ['viewer']);
    const taken = await accept(token, 'vic', 'the third chose a long pass phrase');
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.equal(taken.body['code'], 'VGL_NAME_TAKEN');
    assert.ok((await pending(olive)).includes(id), 'pending again');
    assert.equal((await accept(token, 'una', 'the third chose a long pass phrase')).status, 201);
    assert.equal((await signIn('corp', 'una', 'the third chose a long pass phrase')).status, 200);
  });

  test('an acceptance interrupted before its user was made is finished by the same request later, never twice', async () => {
    const { id, token } = await invited('ivy@corp.example', ['viewer']);
    // What a crash right after the acceptance leaves: the acceptance, appended two minutes ago, and no user.
    const secret = 'she picked this long pass phrase';
    chosen.push(secret);
    const acceptedEvent = createEvent(InvitationAccepted, { user_id: id, username: 'ivy', password_hash: await hashPassword(secret) }, { actor: { kind: 'user', id }, tenant: 'corp' });
    await append(t.testBus.bus, `auth.corp.invitation.${id}`, { ...acceptedEvent, at: new Date(Date.now() - 120_000).toISOString() });
    assert.equal((await signIn('corp', 'ivy', secret)).status, 401, 'no user yet');
    refusedAsInvalid(await accept(token, 'ivy', 'not what ivy chose at first'), 'another password');
    refusedAsInvalid(await accept(token, 'ivy2', secret), 'another username');
    const finished = await accept(token, 'ivy', secret);
    assert.equal(finished.status, 201, JSON.stringify(finished.body));
    assert.deepEqual(finished.body, { user_id: id, tenant: 'corp' });
    assert.equal((await signIn('corp', 'ivy', secret)).status, 200);
    refusedAsInvalid(await accept(token, 'ivy', secret), 'finished: the token is spent');
    assert.equal((await events(StreamName.AuthEvent)).filter((e) => e.type === 'auth.user.created' && e.data['user_id'] === id).length, 1);
  });
});

describe('who may invite', () => {
  test('only with users:create, and only roles within one’s own: an admin cannot invite an owner; a viewer invites no one', async () => {
    const owner = await invite(adam, 'boss@corp.example', ['owner']);
    assert.equal(owner.status, 403, JSON.stringify(owner.body));
    assert.equal(owner.body['code'], 'VGL_FORBIDDEN');
    assert.equal((await invite(adam, 'boss@corp.example', ['platform_admin'])).status, 403);
    const vic = await accessOf('corp', 'vic');
    assert.equal((await invite(vic, 'friend@corp.example', ['viewer'])).status, 403);
    assert.equal((await invite(adam, 'oper@corp.example', ['operator'])).status, 201);
    assert.equal((await invite(olive, 'boss@corp.example', ['owner'])).status, 201, 'an owner may');
  });

  test('an e-mail address of a user already: 409 at once; bad bodies: 400', async () => {
    const taken = await invite(olive, 'VIC@corp.example', ['viewer']);
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.equal(taken.body['code'], 'VGL_NAME_TAKEN');
    assert.equal((await invite(olive, 'x@corp.example', ['viewer'], { expires_in_seconds: 31 * 86_400 })).status, 400, 'beyond 30 days');
    assert.equal((await invite(olive, 'x@corp.example', [])).status, 400, 'no role');
    assert.equal((await invite(olive, 'x@corp.example', ['viewer'], { tenant: 'other' })).status, 400, 'no tenant in the body');
    const week = await invite(olive, 'week@corp.example', ['viewer']);
    assert.ok(Math.abs(Date.parse(text(week.body['expires_at'])) - (Date.now() + 7 * 86_400_000)) < 60_000, 'seven days by default');
    const hour = await invite(olive, 'hour@corp.example', ['viewer'], { expires_in_seconds: 3600 });
    assert.ok(Math.abs(Date.parse(text(hour.body['expires_at'])) - (Date.now() + 3_600_000)) < 60_000, 'as asked');
  });

  test('the invitation carries its issuer’s authority: once the issuer is disabled, it no longer opens', async () => {
    const carl = await call(edge, 'POST', '/users', { username: 'carl', email: 'carl@corp.example', password: 'the second admin has a long phrase', roles: ['admin'] }, olive);
    assert.equal(carl.status, 201);
    const carlToken = (await signIn('corp', 'carl', 'the second admin has a long phrase')).access ?? '';
    const { token } = await invited('dora@corp.example', ['viewer'], carlToken);
    assert.equal((await call(edge, 'POST', `/users/${text(carl.body['user_id'])}/disable`, {}, olive)).status, 200);
    refusedAsInvalid(await accept(token, 'dora', 'a fine long pass phrase of hers'), 'issuer disabled');
  });

  test('another tenant’s invitations: not listed, not revoked (404), not accepted under my tenant', async () => {
    const { id } = await invited('zed@corp.example', ['viewer']);
    const oscar = await accessOf('other', 'oscar');
    assert.equal((await call(edge, 'DELETE', `/invitations/${id}`, undefined, oscar)).status, 404);
    assert.ok(!(await pending(oscar)).includes(id));
    assert.ok((await pending(olive)).includes(id), 'still pending in its own tenant');
    assert.equal((await call(edge, 'DELETE', `/invitations/${uuidv7()}`, undefined, olive)).status, 404, 'unknown');
  });
});

describe('limits and what is kept', () => {
  test('the acceptance is rate limited per client like sign-in: 429 with Retry-After', async () => {
    const limited = (await t.edge({ VIGIL_AUTH_RATE_LIMIT: '2' })).url;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await accept('vgi_nothing', 'someone', 'some long pass phrase', limited)).status);
    assert.deepEqual(statuses, [401, 401, 429]);
  });

  test('no invitation token, invited e-mail address or chosen password in any log line; no token, address or password in any stored event', async () => {
    const stored = (await storedMessages(t.testBus.bus, StreamName.AuthEvent)).join('\n') + (await storedMessages(t.testBus.bus, StreamName.Audit)).join('\n');
    assert.ok(t.logs.text.includes('invitation accepted') && t.logs.text.includes('invitation issued'), 'the logs were captured');
    assert.ok(tokens.length > 5 && emails.length > 5);
    for (const secret of [...tokens, ...tokens.map((x) => x.slice(-43)), ...emails, ...chosen]) {
      assert.equal(t.logs.text.includes(secret), false, `in the logs: ${secret.slice(0, 6)}…`);
      assert.equal(stored.includes(secret), false, `in a stream: ${secret.slice(0, 6)}…`);
    }
  });
});

async function events(name: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  return (await storedMessages(t.testBus.bus, name)).flatMap((raw) => {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string' && 'data' in v && typeof v.data === 'object' && v.data !== null
      ? [{ type: v.type, data: Object.fromEntries(Object.entries(v.data)) }]
      : [];
  });
}
