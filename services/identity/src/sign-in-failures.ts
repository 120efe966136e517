import { createEvent, type EventDraft } from '@vigil/bus';
import { AuthenticationFailedError } from '@vigil/identity-contract';
import { AccountLockedAudit, LoginFailedAudit } from '@vigil/schemas';
import type { IdentityContext } from './identity-context.ts';
import { nameHash } from './subjects.ts';

/** The factor an attempt was refused on, as the audit trail names it (a recovery code counts with TOTP toward a lock). */
export type RefusedFactor = 'password' | 'totp' | 'recovery_code';
export type RefusalReason = 'wrong' | 'replayed' | 'locked' | 'disabled' | 'unknown_user';

/**
 * Records a refused sign-in (or re-authentication) on AUDIT and throws the one answer every failure gets, whatever
 * its cause: the trail has the reason, the caller does not.
 */
export async function refuseSignIn(ctx: IdentityContext, tenant: string, username: string, userId: string | undefined, factor: RefusedFactor, reason: RefusalReason): Promise<never> {
  ctx.audit.info({ tenant, user_id: userId, factor, reason }, 'sign-in refused');
  await ctx.record(
    createEvent(
      LoginFailedAudit,
      {
        category: 'authentication',
        severity: reason === 'replayed' ? 'warning' : 'notice',
        ...(userId ? { user_id: userId } : {}),
        username_sha256: nameHash(tenant, 'username', username),
        factor,
        reason,
      },
      { actor: userId ? { kind: 'user', id: userId } : { kind: 'system', id: 'anonymous' }, tenant },
    ),
  );
  throw new AuthenticationFailedError();
}

/** After a failed attempt's event: a lock it carried goes to AUDIT as its own record. */
export async function recordLock(ctx: IdentityContext, tenant: string, userId: string, decided: readonly EventDraft[], factor: RefusedFactor, failuresBefore: number): Promise<void> {
  for (const d of decided) {
    const data = d.data;
    if (d.type === 'auth.user.login_failed' && typeof data === 'object' && data !== null && 'locked_until' in data && typeof data.locked_until === 'string') {
      ctx.audit.warn({ tenant, user_id: userId, factor, until: data.locked_until }, 'account locked');
      await ctx.record(
        createEvent(
          AccountLockedAudit,
          { category: 'authentication', severity: 'warning', user_id: userId, until: data.locked_until, failures: failuresBefore + 1, factor },
          { actor: { kind: 'user', id: userId }, tenant },
        ),
      );
    }
  }
}

/** The refusal a failed attempt's event stands for: a wrong factor, or one used before. */
export function refusalOf(decided: readonly EventDraft[]): 'wrong' | 'replayed' | undefined {
  const failed = decided.find((d) => d.type === 'auth.user.login_failed');
  if (!failed) return undefined;
  const data = failed.data;
  return typeof data === 'object' && data !== null && 'reason' in data && data.reason === 'replayed' ? 'replayed' : 'wrong';
}
