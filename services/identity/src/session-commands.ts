import { createEvent, handleCommand, type Caller, type EventDraft } from '@vigil/bus';
import { sha256Hex } from '@vigil/crypto';
import { permissions, SessionNotFoundError, sessionSubject, TokenInvalidError, type Done, type SessionList, type TokenPair } from '@vigil/identity-contract';
import { RefreshReuseAudit, SessionRevokedAudit } from '@vigil/schemas';
import { decideAndAppend, serviceActor, type IdentityContext, type TenantCaller } from './identity-context.ts';
import { newRefreshToken, refreshTokenSession } from './refresh-token.ts';
import { isLive, sessionDecider, type RevocationReason, type SessionCommand, type SessionState } from './session.ts';
import { userSubject } from './subjects.ts';
import { predatesReactivation } from './tenant.ts';
import { userDecider } from './user.ts';

/** Sessions: refresh with rotation, logout, revocation by their owner or an administrator, the list of my own. */
export class SessionCommands {
  readonly #ctx: IdentityContext;

  constructor(ctx: IdentityContext) {
    this.#ctx = ctx;
  }

  async #command(tenant: string, sessionId: string, command: SessionCommand, actor: Caller['actor']) {
    return decideAndAppend(this.#ctx.bus, sessionSubject(tenant, sessionId), sessionDecider, command, { actor, tenant }, this.#ctx.sessions);
  }

  async state(tenant: string, sessionId: string): Promise<SessionState> {
    return (await this.#ctx.sessions.read(sessionSubject(tenant, sessionId))).state;
  }

  /**
   * Revokes a session (its revocation reaches every edge over the bus) and takes it off its user's list; whether this
   * call ended it (false: it had ended already). `forbid` also revokes one that has not started yet.
   */
  async end(tenant: string, userId: string, sessionId: string, reason: RevocationReason, actor: Caller['actor'], how: 'revoke' | 'forbid' = 'revoke'): Promise<boolean> {
    const { decided } = await this.#command(tenant, sessionId, { kind: how, reason }, actor);
    await this.#afterRevocation(tenant, userId, sessionId, reason, decided, actor);
    return decided.some((d) => d.type === 'auth.session.revoked');
  }

  async #afterRevocation(tenant: string, userId: string, sessionId: string, reason: RevocationReason, decided: readonly EventDraft[], actor: Caller['actor']): Promise<void> {
    if (!decided.some((d) => d.type === 'auth.session.revoked')) return;
    const subject = userSubject(tenant, userId);
    const result = await handleCommand(this.#ctx.bus, { subject, decider: userDecider, command: { kind: 'end_session', sessionId }, meta: { actor, tenant } });
    this.#ctx.users.remember(subject, result.state, result.seq);
    const severity = reason === 'refresh_reuse' ? 'critical' : 'info';
    await this.#ctx.record(createEvent(SessionRevokedAudit, { category: 'authentication', severity, user_id: userId, session_id: sessionId, reason }, { actor, tenant }));
  }

  /** A new token pair for a refresh token, which is rotated; a rotated one presented again ends the session. */
  async refresh(token: string): Promise<TokenPair> {
    const named = refreshTokenSession(token);
    if (!named) throw new TokenInvalidError();
    const { tenant, sessionId } = named;
    const tenantState = await this.#ctx.tenants.state(tenant);
    if (tenantState.id === undefined || tenantState.suspended) throw new TokenInvalidError();
    const next = newRefreshToken(tenant, sessionId);
    const now = Date.now();
    const presented = sha256Hex(token);
    const command: SessionCommand = {
      kind: 'refresh',
      presented,
      next: next.sha256,
      now,
      idleMs: this.#ctx.policy.sessionIdleMs,
      ...(tenantState.sessionsValidFrom === undefined ? {} : { notBefore: tenantState.sessionsValidFrom }),
    };
    const { state, decided } = await this.#command(tenant, sessionId, command, serviceActor);
    const userId = state.userId;
    if (!userId) throw new TokenInvalidError();
    if (decided.some((d) => d.type === 'auth.session.refreshed')) return this.#ctx.tokenPair(tenant, userId, sessionId, state.roles, next.token);
    if (state.status === 'revoked' && state.revokedReason) {
      const actor = { kind: 'user', id: userId } as const;
      await this.#afterRevocation(tenant, userId, sessionId, state.revokedReason, decided, actor);
      if (state.revokedReason === 'refresh_reuse' && decided.length > 0) {
        this.#ctx.audit.warn({ tenant, user_id: userId, session_id: sessionId }, 'refresh token reused: session revoked');
        await this.#ctx.record(createEvent(RefreshReuseAudit, { category: 'authentication', severity: 'critical', user_id: userId, session_id: sessionId }, { actor, tenant }));
      }
    }
    throw new TokenInvalidError();
  }

  /** A session of the caller's own, or one an administrator of the same tenant may end. */
  async #revocable(caller: TenantCaller, sessionId: string): Promise<SessionState & { userId: string; byOwner: boolean }> {
    const acting = await this.#ctx.acting(caller);
    const loaded = await this.state(caller.tenant, sessionId);
    if (!loaded.userId || loaded.status === 'none') throw new SessionNotFoundError();
    const byOwner = loaded.userId === acting.userId;
    if (!byOwner) await this.#ctx.require(caller, permissions.sessionsRevoke).catch(() => Promise.reject(new SessionNotFoundError()));
    return { ...loaded, userId: loaded.userId, byOwner };
  }

  async logout(caller: TenantCaller, sessionId: string): Promise<Done> {
    const session = await this.#revocable(caller, sessionId);
    if (!session.byOwner) throw new SessionNotFoundError();
    await this.end(caller.tenant, session.userId, sessionId, 'logout', caller.actor);
    return { done: true };
  }

  async revoke(caller: TenantCaller, sessionId: string): Promise<Done> {
    const session = await this.#revocable(caller, sessionId);
    await this.end(caller.tenant, session.userId, sessionId, session.byOwner ? 'logout' : 'revoked', caller.actor);
    return { done: true };
  }

  /** My sessions that still stand (not those a suspension of my tenant ended). */
  async list(caller: TenantCaller, currentSessionId: string): Promise<SessionList> {
    const { state } = await this.#ctx.users.read(userSubject(caller.tenant, caller.actor.id));
    const tenant = await this.#ctx.tenants.state(caller.tenant);
    const now = Date.now();
    const sessions: SessionList['sessions'] = [];
    for (const s of state.sessions) {
      if (s.expiresAt <= now) continue;
      const session = await this.state(caller.tenant, s.id);
      if (!isLive(session, now, this.#ctx.policy.sessionIdleMs) || predatesReactivation(tenant, session.startedAt)) continue;
      sessions.push({
        id: s.id,
        started_at: new Date(session.startedAt).toISOString(),
        last_active_at: new Date(session.lastActiveAt).toISOString(),
        expires_at: new Date(session.expiresAt).toISOString(),
        mfa: session.mfa,
        current: s.id === currentSessionId,
      });
    }
    return { sessions };
  }
}
