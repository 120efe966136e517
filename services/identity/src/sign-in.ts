import { createEvent, handleCommand } from '@vigil/bus';
import { uuidv7, verifyAgainstDummy, verifyPassword } from '@vigil/crypto';
import { AuthenticationFailedError, MfaFailedError, sessionSubject, type LoginResult, type TokenPair, type VerifyMfaRequest } from '@vigil/identity-contract';
import { LoginSucceededAudit, RecoveryCodeUsedAudit } from '@vigil/schemas';
import { decideAndAppend, type IdentityContext } from './identity-context.ts';
import { secondFactorOf } from './mfa-commands.ts';
import { newRefreshToken } from './refresh-token.ts';
import type { SessionCommands } from './session-commands.ts';
import { initialSession, sessionDecider } from './session.ts';
import { recordLock, refusalOf, refuseSignIn } from './sign-in-failures.ts';
import { claimSubject, normalizeName, userSubject } from './subjects.ts';
import { sessionsOverLimit, userDecider, type UserCommand, type UserState } from './user.ts';

/** Sign-in: the password, then (with TOTP on) a TOTP code or a recovery code, each attempt counted on the user's subject. */
export class SignIn {
  readonly #ctx: IdentityContext;
  readonly #sessions: SessionCommands;

  constructor(ctx: IdentityContext, sessions: SessionCommands) {
    this.#ctx = ctx;
    this.#sessions = sessions;
  }

  /**
   * The user a username names in a tenant: from the user directory (no read), else from the claim subject (one direct
   * read, no table) for a user made a moment ago through another replica. A claim names its user for good (names stay
   * claimed even after a delete), so the directory cannot name anyone else.
   */
  async #userIdOf(tenant: string, username: string): Promise<string | undefined> {
    const known = this.#ctx.people.idOf(tenant, normalizeName(username));
    if (known) return known;
    const { bus } = this.#ctx;
    const last = await bus.jsm.streams.getMessage(bus.names.stream('AUTH_EVENT'), { last_by_subj: bus.names.subject(claimSubject(tenant, 'username', username)) });
    if (!last) return undefined;
    const event: unknown = last.json();
    const validation = bus.registry.validate(event);
    if (!validation.ok || validation.event.type !== 'auth.claim.taken') return undefined;
    const data = validation.event.data;
    return typeof data === 'object' && data !== null && 'user_id' in data && typeof data.user_id === 'string' ? data.user_id : undefined;
  }

  async login(data: { tenant: string; username: string; password: string }): Promise<LoginResult> {
    const ctx = this.#ctx;
    const { tenant, username, password } = data;
    const now = Date.now();
    const userId = (await ctx.tenants.isActive(tenant)) ? await this.#userIdOf(tenant, username) : undefined;
    if (!userId) {
      await verifyAgainstDummy(password);
      return refuseSignIn(ctx, tenant, username, undefined, 'password', 'unknown_user');
    }
    const subject = userSubject(tenant, userId);
    const session = { id: uuidv7(), expiresAt: now + ctx.policy.sessionMaxMs };
    // First on the state this worker holds, unread: the attempt is appended expecting its sequence, so a lock or a
    // disable made elsewhere meanwhile makes it conflict and decided again on the stream's state. A password changed
    // elsewhere makes the attempt prove nothing (it was checked against the old hash): then it is checked again, once,
    // against the hash read now.
    const cached = ctx.users.peek(subject);
    let outcome = await this.#passwordAttempt(tenant, userId, password, cached ?? (await ctx.users.read(subject)), session, now);
    if (cached && outcome.decided.length === 0 && outcome.state.passwordVersion !== cached.state.passwordVersion) {
      outcome = await this.#passwordAttempt(tenant, userId, password, await ctx.users.read(subject), session, now);
    }
    const { before, state, decided, matched } = outcome;
    if (decided.some((d) => d.type === 'auth.user.logged_in')) return this.#openSession(tenant, userId, state, session, false);
    if (decided.some((d) => d.type === 'auth.user.login_failed')) {
      await recordLock(ctx, tenant, userId, decided, 'password', before.state.failures.password);
      return refuseSignIn(ctx, tenant, username, userId, 'password', 'wrong');
    }
    if (state.disabled || state.deleted) return refuseSignIn(ctx, tenant, username, userId, 'password', 'disabled');
    if (state.lockedUntil !== undefined && state.lockedUntil > now) return refuseSignIn(ctx, tenant, username, userId, 'password', 'locked');
    if (matched && state.mfa) return { status: 'mfa_required', mfa_token: await ctx.tokens.mfaToken(userId, tenant, now), expires_in: ctx.policy.tokens.mfaTtlSeconds };
    // The password changed while this attempt was being checked: it proves nothing either way.
    return refuseSignIn(ctx, tenant, username, userId, 'password', 'wrong');
  }

  /** One check of a password against the hash of `before`, counted on the user's subject. */
  async #passwordAttempt(tenant: string, userId: string, password: string, before: { state: UserState; seq: number }, session: { id: string; expiresAt: number }, now: number) {
    const ctx = this.#ctx;
    const subject = userSubject(tenant, userId);
    const hash = before.state.passwordHash;
    const matched = hash ? await verifyPassword(hash, password) : await verifyAgainstDummy(password);
    const { state, seq, decided } = await decideAndAppend(
      ctx.bus,
      subject,
      userDecider,
      { kind: 'password_attempt', matched, passwordVersion: before.state.passwordVersion, now, session, policy: ctx.policy.lockout },
      { actor: { kind: 'user', id: userId }, tenant },
      ctx.users,
    );
    ctx.users.remember(subject, state, seq);
    return { before, state, decided, matched };
  }

  /** The second step: a TOTP code (each time step once), or one of the recovery codes (each once). */
  async verifyMfa(request: VerifyMfaRequest): Promise<TokenPair> {
    const ctx = this.#ctx;
    const challenge = await ctx.tokens.verifyMfaToken(request.mfa_token);
    if (!challenge) throw new MfaFailedError();
    const { userId, tenant } = challenge;
    // A challenge issued before a suspension does not outlive it.
    if (!(await ctx.tenants.isActive(tenant))) throw new MfaFailedError();
    const now = Date.now();
    const subject = userSubject(tenant, userId);
    const before = await ctx.users.read(subject);
    const second = secondFactorOf(ctx, tenant, userId, before.state, request, now);
    const session = { id: uuidv7(), expiresAt: now + ctx.policy.sessionMaxMs };
    const policy = ctx.policy.lockout;
    const command: UserCommand =
      second.kind === 'totp' ? { kind: 'totp_attempt', step: second.step, now, session, policy } : { kind: 'recovery_attempt', sha256: second.sha256, now, session, policy };
    const { state, seq, decided } = await decideAndAppend(ctx.bus, subject, userDecider, command, { actor: { kind: 'user', id: userId }, tenant }, ctx.users);
    ctx.users.remember(subject, state, seq);
    if (decided.some((d) => d.type === 'auth.user.logged_in')) {
      const tokens = await this.#openSession(tenant, userId, state, session, true);
      if (second.kind === 'recovery_code') {
        const remaining = state.recoveryCodes.size;
        ctx.audit.warn({ tenant, user_id: userId, session_id: session.id, remaining }, 'signed in with a recovery code');
        await ctx.record(
          createEvent(RecoveryCodeUsedAudit, { category: 'authentication', severity: 'warning', user_id: userId, session_id: session.id, remaining }, { actor: { kind: 'user', id: userId }, tenant }),
        );
      }
      return tokens;
    }
    const username = state.username ?? userId;
    const refusal = refusalOf(decided);
    if (refusal) {
      await recordLock(ctx, tenant, userId, decided, second.kind, before.state.failures.totp);
      await refuseSignIn(ctx, tenant, username, userId, second.kind, refusal).catch(() => undefined);
      throw new MfaFailedError();
    }
    await refuseSignIn(ctx, tenant, username, userId, second.kind, state.disabled || state.deleted ? 'disabled' : 'locked').catch(() => undefined);
    throw new MfaFailedError();
  }

  /** After a successful attempt: the session's own aggregate, the sessions over the limit ended, the tokens. */
  async #openSession(tenant: string, userId: string, user: UserState, session: { id: string; expiresAt: number }, mfa: boolean): Promise<TokenPair> {
    const ctx = this.#ctx;
    const refresh = newRefreshToken(tenant, session.id);
    const actor = { kind: 'user', id: userId } as const;
    // A new session id (UUIDv7): its subject holds nothing yet, so the start is appended expecting sequence 0 with no
    // read first (anything there already makes it conflict, and then it is read).
    const subject = sessionSubject(tenant, session.id);
    ctx.sessions.remember(subject, initialSession, 0);
    // The attempt appended on the user's subject decided the sign-in: it goes on AUDIT while the session starts, both
    // in one write, not a round trip later. A session forbidden in between (its user disabled meanwhile) is recorded
    // as ended by the disable, after this.
    const audited = ctx.record(createEvent(LoginSucceededAudit, { category: 'authentication', severity: 'info', user_id: userId, session_id: session.id, mfa }, { actor, tenant }));
    const started = await handleCommand(ctx.bus, {
      subject,
      cache: ctx.sessions,
      decider: sessionDecider,
      command: { kind: 'start', data: { user_id: userId, roles: [...user.roles], refresh_sha256: refresh.sha256, expires_at: new Date(session.expiresAt).toISOString(), mfa } },
      meta: { actor, tenant },
    });
    // Forbidden before it could start (its user was disabled or deleted while signing in): no tokens.
    if (started.state.status !== 'active') throw new AuthenticationFailedError();
    for (const oldest of sessionsOverLimit(user, Date.now(), ctx.policy.maxSessionsPerUser)) {
      await this.#sessions.end(tenant, userId, oldest, 'session_limit', actor);
    }
    await audited;
    ctx.audit.info({ tenant, user_id: userId, session_id: session.id, mfa }, 'signed in');
    return ctx.tokenPair(tenant, userId, session.id, user.roles, refresh.token);
  }
}
