import { BadRequestError, createEvent, handleCommand } from '@vigil/bus';
import { matchTotpStep, newTotpSecret, open, seal, totpUri, uuidv7, verifyAgainstDummy, verifyPassword } from '@vigil/crypto';
import { MfaFailedError, MfaStateError, TokenInvalidError, type Done, type MfaEnrollment, type MfaReauthRequest, type RecoveryCodes } from '@vigil/identity-contract';
import { MfaChangedAudit } from '@vigil/schemas';
import { decideAndAppend, type IdentityContext, type TenantCaller } from './identity-context.ts';
import { newRecoveryCodes, recoveryCodeHash } from './recovery-code.ts';
import { recordLock, refuseSignIn, type RefusedFactor } from './sign-in-failures.ts';
import { userSubject } from './subjects.ts';
import { userDecider, type SealedSecret, type SecondFactor, type UserCommand, type UserState } from './user.ts';

/** The second factor a request carries: a TOTP code or a recovery code, exactly one. */
export function secondFactorOf(ctx: IdentityContext, tenant: string, userId: string, state: UserState, request: { code?: string; recovery_code?: string }, now: number): SecondFactor {
  const { code, recovery_code: recoveryCode } = request;
  if ((code === undefined) === (recoveryCode === undefined)) throw new BadRequestError('send either a TOTP code (code) or a recovery code (recovery_code)');
  if (recoveryCode !== undefined) return { kind: 'recovery_code', sha256: recoveryCodeHash(tenant, userId, recoveryCode) };
  const secret = state.mfa ? openTotpSecret(ctx, userId, state.mfa.secret) : undefined;
  return { kind: 'totp', step: secret && code !== undefined ? matchTotpStep(secret, code, now) : undefined };
}

export function openTotpSecret(ctx: IdentityContext, userId: string, sealed: SealedSecret): string {
  return open(ctx.ring, { kekId: sealed.kek_id, data: Buffer.from(sealed.sealed, 'base64') }, `identity.totp:${userId}`).toString('utf8');
}

/**
 * TOTP of my own account: enrolment, confirmation (which issues ten recovery codes, shown once), and, after
 * re-authentication with the current password and a second factor, turning it off or replacing the recovery codes.
 */
export class MfaCommands {
  readonly #ctx: IdentityContext;

  constructor(ctx: IdentityContext) {
    this.#ctx = ctx;
  }

  async enroll(caller: TenantCaller): Promise<MfaEnrollment> {
    const userId = caller.actor.id;
    const subject = userSubject(caller.tenant, userId);
    const { state } = await this.#ctx.users.read(subject);
    if (state.id === undefined) throw new TokenInvalidError();
    if (state.mfa) throw new MfaStateError('MFA is already enabled');
    const secret = newTotpSecret();
    const sealed = seal(this.#ctx.ring, Buffer.from(secret, 'utf8'), `identity.totp:${userId}`);
    const result = await handleCommand(this.#ctx.bus, {
      subject,
      decider: userDecider,
      command: { kind: 'enroll_mfa', enrollmentId: uuidv7(), secret: { kek_id: sealed.kekId, sealed: sealed.data.toString('base64') } },
      meta: { actor: caller.actor, tenant: caller.tenant },
    });
    this.#ctx.users.remember(subject, result.state, result.seq);
    return { otpauth_uri: totpUri(secret, this.#ctx.policy.totpIssuer, `${caller.tenant}:${state.username ?? userId}`), secret };
  }

  /** TOTP is on once a first code checks out; the recovery codes are issued in the same event and shown this once. */
  async confirm(caller: TenantCaller, code: string): Promise<RecoveryCodes> {
    const { tenant, actor } = caller;
    const userId = actor.id;
    const subject = userSubject(tenant, userId);
    const { state } = await this.#ctx.users.read(subject);
    const pending = state.pendingMfa;
    if (!pending) throw new MfaStateError('no MFA enrollment is pending');
    const step = matchTotpStep(openTotpSecret(this.#ctx, userId, pending.secret), code, Date.now());
    const recovery = newRecoveryCodes(tenant, userId);
    const result = await handleCommand(this.#ctx.bus, {
      subject,
      decider: userDecider,
      command: { kind: 'confirm_mfa', enrollmentId: pending.enrollmentId, step, recoveryCodes: recovery.hashes },
      meta: { actor, tenant },
    });
    this.#ctx.users.remember(subject, result.state, result.seq);
    this.#ctx.audit.info({ tenant, user_id: userId }, 'TOTP enabled');
    await this.#ctx.record(createEvent(MfaChangedAudit, { category: 'authentication', severity: 'notice', user_id: userId, change: 'enabled' }, { actor, tenant }));
    return { recovery_codes: recovery.codes };
  }

  /** TOTP off: the secret and the recovery codes go; the next sign-in needs the password only. */
  async disable(caller: TenantCaller, request: MfaReauthRequest): Promise<Done> {
    await this.#reauthenticated(caller, request, { kind: 'disable' });
    this.#ctx.audit.info({ tenant: caller.tenant, user_id: caller.actor.id }, 'TOTP disabled');
    await this.#ctx.record(createEvent(MfaChangedAudit, { category: 'authentication', severity: 'warning', user_id: caller.actor.id, change: 'disabled' }, { actor: caller.actor, tenant: caller.tenant }));
    return { done: true };
  }

  /** Ten new recovery codes; every earlier one stops working. */
  async regenerate(caller: TenantCaller, request: MfaReauthRequest): Promise<RecoveryCodes> {
    const recovery = newRecoveryCodes(caller.tenant, caller.actor.id);
    await this.#reauthenticated(caller, request, { kind: 'regenerate', codes: recovery.hashes });
    this.#ctx.audit.info({ tenant: caller.tenant, user_id: caller.actor.id }, 'recovery codes regenerated');
    await this.#ctx.record(createEvent(MfaChangedAudit, { category: 'authentication', severity: 'notice', user_id: caller.actor.id, change: 'recovery_codes_regenerated' }, { actor: caller.actor, tenant: caller.tenant }));
    return { recovery_codes: recovery.codes };
  }

  /**
   * The change, once the current password and a second factor check out, in one append on the user's subject: a wrong
   * password or code counts toward the lockout exactly like a sign-in (a stolen access token must not become a way to
   * turn MFA off, nor an unlimited oracle for either factor), and the code is spent by the change itself.
   */
  async #reauthenticated(caller: TenantCaller, request: MfaReauthRequest, change: Extract<UserCommand, { kind: 'mfa_reauth' }>['change']): Promise<void> {
    const { tenant, actor } = caller;
    const userId = actor.id;
    const subject = userSubject(tenant, userId);
    const before = await this.#ctx.users.read(subject);
    if (!before.state.mfa) throw new MfaStateError('MFA is not enabled');
    const now = Date.now();
    const second = secondFactorOf(this.#ctx, tenant, userId, before.state, request, now);
    const hash = before.state.passwordHash;
    const matched = hash ? await verifyPassword(hash, request.current_password) : await verifyAgainstDummy(request.current_password);
    const command: UserCommand = { kind: 'mfa_reauth', change, passwordMatched: matched, passwordVersion: before.state.passwordVersion, second, now, policy: this.#ctx.policy.lockout };
    const { state, seq, decided } = await decideAndAppend(this.#ctx.bus, subject, userDecider, command, { actor, tenant }, this.#ctx.users);
    this.#ctx.users.remember(subject, state, seq);
    const username = state.username ?? userId;
    const failed = decided.find((d) => d.type === 'auth.user.login_failed');
    if (failed) {
      const onPassword = typeof failed.data === 'object' && failed.data !== null && 'factor' in failed.data && failed.data.factor === 'password';
      const factor: RefusedFactor = onPassword ? 'password' : second.kind;
      await recordLock(this.#ctx, tenant, userId, decided, factor, before.state.failures[onPassword ? 'password' : 'totp']);
      if (onPassword) await refuseSignIn(this.#ctx, tenant, username, userId, 'password', 'wrong');
      const replayed = typeof failed.data === 'object' && failed.data !== null && 'reason' in failed.data && failed.data.reason === 'replayed';
      await refuseSignIn(this.#ctx, tenant, username, userId, factor, replayed ? 'replayed' : 'wrong').catch(() => undefined);
      throw new MfaFailedError();
    }
    if (decided.length === 0) await refuseSignIn(this.#ctx, tenant, username, userId, 'password', state.disabled || state.deleted ? 'disabled' : 'locked');
  }
}
