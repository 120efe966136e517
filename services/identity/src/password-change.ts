import { createEvent } from '@vigil/bus';
import { hashPassword, verifyAgainstDummy, verifyPassword } from '@vigil/crypto';
import type { ChangePasswordRequest, Done } from '@vigil/identity-contract';
import { PasswordChangedAudit } from '@vigil/schemas';
import { decideAndAppend, type IdentityContext, type TenantCaller } from './identity-context.ts';
import type { SessionCommands } from './session-commands.ts';
import { recordLock, refuseSignIn } from './sign-in-failures.ts';
import { userSubject } from './subjects.ts';
import { userDecider, type UserCommand } from './user.ts';

/**
 * A new password, after re-authentication with the current one: a wrong one counts toward the lockout like a failed
 * sign-in (a stolen access token must not become an unlimited password oracle). Every other session then ends.
 */
export async function changePassword(ctx: IdentityContext, sessions: SessionCommands, caller: TenantCaller, data: ChangePasswordRequest): Promise<Done> {
  const { tenant, actor } = caller;
  const userId = actor.id;
  const subject = userSubject(tenant, userId);
  const before = await ctx.users.read(subject);
  const username = before.state.username ?? userId;
  ctx.checkPassword(data.new_password, username);
  const hash = before.state.passwordHash;
  const matched = hash ? await verifyPassword(hash, data.current_password) : await verifyAgainstDummy(data.current_password);
  let check: Extract<UserCommand, { kind: 'change_password' }>['check'] = { matched: false };
  if (matched) check = { matched: true, newPasswordHash: await hashPassword(data.new_password) };
  const command: UserCommand = { kind: 'change_password', check, passwordVersion: before.state.passwordVersion, now: Date.now(), policy: ctx.policy.lockout };
  const { state, seq, decided } = await decideAndAppend(ctx.bus, subject, userDecider, command, { actor, tenant }, ctx.users);
  ctx.users.remember(subject, state, seq);
  if (decided.some((d) => d.type === 'auth.user.login_failed')) {
    await recordLock(ctx, tenant, userId, decided, 'password', before.state.failures.password);
    return refuseSignIn(ctx, tenant, username, userId, 'password', 'wrong');
  }
  if (!decided.some((d) => d.type === 'auth.user.password_set')) return refuseSignIn(ctx, tenant, username, userId, 'password', state.disabled || state.deleted ? 'disabled' : 'locked');
  let ended = 0;
  for (const other of state.sessions.filter((x) => x.id !== data.session_id)) {
    if (await sessions.end(tenant, userId, other.id, 'password_changed', actor)) ended++;
  }
  ctx.audit.info({ tenant, user_id: userId, sessions_ended: ended }, 'password changed');
  await ctx.record(createEvent(PasswordChangedAudit, { category: 'authentication', severity: 'notice', user_id: userId, sessions_ended: ended }, { actor, tenant }));
  return { done: true };
}
