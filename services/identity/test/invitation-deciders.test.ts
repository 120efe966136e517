// Given events, when a command, then events (or a refusal): invitations, and making the user one accepts, without a bus.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sha256Hex } from '@vigil/crypto';
import { apiKeyIdOf, InvitationInvalidError, InvitationNotFoundError, invitationOf } from '@vigil/identity-contract';
import { newInvitationToken } from '../src/invitation-token.ts';
import { invitationDecider, invitedUserId, isAcceptable, type Acceptance, type InvitationCommand } from '../src/invitation.ts';
import { userDecider } from '../src/user.ts';
import { given, types, when } from './given.ts';

const inv = '01890a5d-ac96-774b-bcce-b302099a8071';
const issuedAt = Date.parse('2026-01-01T00:00:00Z');
const day = 86_400_000;
const expiresAt = issuedAt + 7 * day;
const hash = (c: string) => c.repeat(64);
const token = hash('a');
const phc = (salt: string) => `$argon2id$v=19$m=19456,t=2,p=1$${salt}$hash`;

const issuedData = {
  invitation_id: inv,
  email_sha256: hash('e'),
  email: { kek_id: 'k1', sealed: 'AAAA' },
  roles: ['operator'],
  expires_at: new Date(expiresAt).toISOString(),
  token_sha256: token,
};
const issued = { type: 'auth.invitation.issued', v: 1, data: issuedData };
const acceptance = (username: string, salt = 's1'): Acceptance => ({ user_id: invitedUserId(inv), username, password_hash: phc(salt) });
const accepted = (username: string) => ({ type: 'auth.invitation.accepted', v: 1, data: acceptance(username) });
const reopened = { type: 'auth.invitation.reopened', v: 1, data: { user_id: inv, reason: 'name_taken' } };
const revoked = { type: 'auth.invitation.revoked', v: 1, data: {} };
const accept = (username: string, now = issuedAt + day, tokenSha256 = token): InvitationCommand => ({ kind: 'accept', tokenSha256, now, acceptance: acceptance(username) });

describe('issuing', () => {
  test('given nothing, when issued, then issued: pending, with its roles and expiry, and its issuer', () => {
    assert.deepEqual(types(when(invitationDecider, given(invitationDecider, []), { kind: 'issue', data: issuedData })), ['auth.invitation.issued']);
    const state = given(invitationDecider, [issued]);
    assert.equal(state.status, 'pending');
    assert.deepEqual(state.roles, ['operator']);
    assert.equal(state.expiresAt, expiresAt);
    assert.deepEqual(state.issuedBy, { kind: 'system', id: 'test' }, 'the envelope’s actor: the invitation carries their authority');
  });

  test('the same issue retried after its append landed is a no-op', () => {
    assert.deepEqual(when(invitationDecider, given(invitationDecider, [issued]), { kind: 'issue', data: issuedData }), []);
  });
});

describe('accepting', () => {
  test('given a pending invitation, when accepted with its token before it expires, then accepted with what making the user needs', () => {
    const drafts = when(invitationDecider, given(invitationDecider, [issued]), accept('newbie'));
    assert.deepEqual(types(drafts), ['auth.invitation.accepted']);
    assert.deepEqual(drafts[0]?.data, acceptance('newbie'));
    const state = given(invitationDecider, [issued, accepted('newbie')]);
    assert.equal(state.status, 'accepted');
    assert.equal(state.acceptance?.user_id, inv, 'the user an invitation makes has its id');
  });

  test('one refusal for every cause: wrong token, expired (at its expires_at), revoked, accepted already, unknown', () => {
    const pending = given(invitationDecider, [issued]);
    assert.throws(() => when(invitationDecider, pending, accept('newbie', issuedAt + day, hash('b'))), InvitationInvalidError, 'wrong token');
    assert.throws(() => when(invitationDecider, pending, accept('newbie', expiresAt)), InvitationInvalidError, 'expired');
    assert.throws(() => when(invitationDecider, given(invitationDecider, [issued, revoked]), accept('newbie')), InvitationInvalidError, 'revoked');
    assert.throws(() => when(invitationDecider, given(invitationDecider, [issued, accepted('first')]), accept('newbie')), InvitationInvalidError, 'accepted');
    assert.throws(() => when(invitationDecider, given(invitationDecider, []), accept('newbie')), InvitationInvalidError, 'unknown');
    assert.equal(isAcceptable(pending, token, expiresAt - 1), true);
    assert.equal(isAcceptable(pending, token, expiresAt), false);
  });

  test('two concurrent acceptances: both decide from the same state, the append expecting its sequence lets one in; the other, deciding again, is refused', () => {
    const pending = given(invitationDecider, [issued]);
    assert.deepEqual(types(when(invitationDecider, pending, accept('first'))), ['auth.invitation.accepted']);
    assert.deepEqual(types(when(invitationDecider, pending, accept('second'))), ['auth.invitation.accepted']);
    assert.throws(() => when(invitationDecider, given(invitationDecider, [issued, accepted('first')]), accept('second')), InvitationInvalidError);
  });

  test('reopened when its user could not be made: pending again, and accepted again with another username', () => {
    const refused = given(invitationDecider, [issued, accepted('taken')]);
    assert.deepEqual(types(when(invitationDecider, refused, { kind: 'reopen', userId: inv, reason: 'name_taken' })), ['auth.invitation.reopened']);
    const again = given(invitationDecider, [issued, accepted('taken'), reopened]);
    assert.equal(again.status, 'pending');
    assert.equal(again.acceptance, undefined);
    assert.deepEqual(types(when(invitationDecider, again, accept('free'))), ['auth.invitation.accepted']);
    assert.deepEqual(when(invitationDecider, again, { kind: 'reopen', userId: inv, reason: 'name_taken' }), [], 'reopened already');
    assert.deepEqual(when(invitationDecider, refused, { kind: 'reopen', userId: '01890a5d-ac96-774b-bcce-b302099a8099', reason: 'name_taken' }), [], 'not its user');
  });
});

describe('revoking', () => {
  test('a pending invitation (expired or not) is revoked once; a retry is a no-op', () => {
    assert.deepEqual(types(when(invitationDecider, given(invitationDecider, [issued]), { kind: 'revoke' })), ['auth.invitation.revoked']);
    assert.deepEqual(when(invitationDecider, given(invitationDecider, [issued, revoked]), { kind: 'revoke' }), []);
    assert.deepEqual(types(when(invitationDecider, given(invitationDecider, [issued, accepted('taken'), reopened]), { kind: 'revoke' })), ['auth.invitation.revoked']);
  });

  test('an unknown invitation (another tenant’s is unknown in mine) or an accepted one is not found', () => {
    assert.throws(() => when(invitationDecider, given(invitationDecider, []), { kind: 'revoke' }), InvitationNotFoundError);
    assert.throws(() => when(invitationDecider, given(invitationDecider, [issued, accepted('newbie')]), { kind: 'revoke' }), InvitationNotFoundError);
  });
});

describe('making the user an invitation accepted', () => {
  const userData = { user_id: inv, username: 'newbie', email_sha256: hash('e'), email: { kek_id: 'k1', sealed: 'AAAA' }, roles: ['operator'] };
  const create = { kind: 'create', data: userData, passwordHash: phc('s1') } as const;
  const userCreated = { type: 'auth.user.created', v: 1, data: userData };
  const passwordSet = { type: 'auth.user.password_set', v: 1, data: { password_hash: phc('s1'), by: 'admin' } };

  test('made once: again for the same id, nothing; interrupted between its two events, the retry sets the password only', () => {
    assert.deepEqual(types(when(userDecider, given(userDecider, []), create)), ['auth.user.created', 'auth.user.password_set']);
    assert.deepEqual(when(userDecider, given(userDecider, [userCreated, passwordSet]), create), []);
    assert.deepEqual(types(when(userDecider, given(userDecider, [userCreated]), create)), ['auth.user.password_set']);
  });
});

describe('the token', () => {
  test('vgi_<tenant>_<invitation id>_<256 random bits>: it names its invitation, even when the tenant id holds _ and -', () => {
    for (const tenant of ['acme', 'a_b-c', 'x']) {
      const { token: shown, sha256 } = newInvitationToken(tenant, inv);
      assert.match(shown, /^vgi_/);
      assert.deepEqual(invitationOf(shown), { tenant, invitationId: inv });
      assert.equal(sha256, sha256Hex(shown));
      assert.ok(Buffer.from(shown.slice(-43), 'base64url').length >= 32, 'at least 256 random bits');
    }
    assert.notEqual(newInvitationToken('acme', inv).token, newInvitationToken('acme', inv).token);
  });

  test('anything else names nothing: another prefix, a short secret, an API key, a refresh token', () => {
    const { token: shown } = newInvitationToken('acme', inv);
    for (const other of [shown.replace('vgi_', 'vgl_'), shown.slice(0, -1), `${shown}A`, `vgi_acme_not-a-uuid_${'A'.repeat(43)}`, `acme.${inv}.${'A'.repeat(43)}`, '']) {
      assert.equal(invitationOf(other), undefined, other);
    }
    assert.equal(apiKeyIdOf(`vgl_${inv}_${'A'.repeat(43)}`), inv, 'API keys parse with the same parts');
  });
});
