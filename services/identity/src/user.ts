import type { Decider, EventDraft } from '@vigil/bus';
import {
  ForbiddenError,
  mayGrant,
  MfaFailedError,
  MfaStateError,
  permissions,
  permissionsOf,
  RoleNotFoundError,
  UserNotFoundError,
  UserStateError,
  type PermissionHolder,
  type Role,
  type RoleCatalog,
} from '@vigil/identity-contract';
import {
  ApiKeyIssued,
  LoggedIn,
  LoginFailed,
  MfaConfirmed,
  MfaDisabled,
  MfaEnrolled,
  PasswordSet,
  RecoveryCodesGenerated,
  RoleAssigned,
  RoleRevoked,
  SessionEnded,
  UserCreated,
  UserDeleted,
  UserDisabled,
  UserRestored,
  UserUnlocked,
  type DataOf,
  type EventOf,
} from '@vigil/schemas';

export const userEvents = [
  UserCreated,
  PasswordSet,
  UserDisabled,
  UserDeleted,
  UserRestored,
  LoginFailed,
  LoggedIn,
  SessionEnded,
  MfaEnrolled,
  MfaConfirmed,
  RecoveryCodesGenerated,
  MfaDisabled,
  UserUnlocked,
  RoleAssigned,
  RoleRevoked,
  ApiKeyIssued,
] as const;
export type UserEvent = EventOf<(typeof userEvents)[number]>;
export type SealedSecret = DataOf<typeof MfaEnrolled>['secret'];
export type Factor = 'password' | 'totp';

export interface UserState {
  readonly id?: string;
  readonly username?: string;
  readonly roles: readonly Role[];
  readonly disabled: boolean;
  /** Soft-deleted: no sign-in, no administration but a restore; the seat is given back, the names are kept. */
  readonly deleted: boolean;
  readonly passwordHash?: string;
  /** How many times the password was set: a verification made against an older one no longer counts. */
  readonly passwordVersion: number;
  /** Consecutive failures per factor since the last login or lock. */
  readonly failures: Readonly<Record<Factor, number>>;
  readonly lockedUntil?: number;
  readonly pendingMfa?: { readonly enrollmentId: string; readonly secret: SealedSecret };
  readonly mfa?: { readonly secret: SealedSecret };
  /** The last TOTP time step accepted; a code of this step or an earlier one is refused. */
  readonly lastTotpStep: number;
  /** Hashes of the recovery codes not used yet; each signs in once instead of a TOTP code. */
  readonly recoveryCodes: ReadonlySet<string>;
  /** Hashes of the current codes already used: presenting one again is a replay, not a mere typo. */
  readonly spentRecoveryCodes: ReadonlySet<string>;
  /** Sessions opened and not known to be ended, oldest first. */
  readonly sessions: readonly { readonly id: string; readonly expiresAt: number }[];
  /** API keys this user issued (made, or being made), with what they carry: a disable or a role change revokes them. */
  readonly apiKeys: ReadonlyMap<string, { readonly permissions: readonly string[]; readonly expiresAt: number }>;
}

/**
 * The administrator acting on a user: who, the permissions they hold (roles, narrowed by their API key), and what
 * each role of their tenant grants (built-in and custom roles), as read when the command was made.
 */
export interface Administrator extends PermissionHolder {
  readonly userId: string;
  readonly catalog: RoleCatalog;
}

export interface LockoutPolicy {
  readonly threshold: number;
  readonly lockMs: number;
}

/** A session a successful attempt opens. */
export interface NewSession {
  readonly id: string;
  readonly expiresAt: number;
}

/** The second factor of a re-authentication or a sign-in, as checked outside (a TOTP step, or a recovery code's hash). */
export type SecondFactor = { readonly kind: 'totp'; readonly step: number | undefined } | { readonly kind: 'recovery_code'; readonly sha256: string };

export type UserCommand =
  | {
      readonly kind: 'create';
      readonly data: DataOf<typeof UserCreated>;
      readonly passwordHash?: string;
    }
  | { readonly kind: 'set_password'; readonly passwordHash: string; readonly by: 'self' | 'admin' }
  | { readonly kind: 'disable'; readonly reason: string; readonly by: Administrator }
  | { readonly kind: 'delete'; readonly reason: string; readonly by: Administrator }
  | { readonly kind: 'restore'; readonly by: Administrator }
  | { readonly kind: 'unlock'; readonly now: number; readonly by: Administrator }
  | { readonly kind: 'assign_role'; readonly role: Role; readonly by: Administrator }
  | { readonly kind: 'revoke_role'; readonly role: Role; readonly by: Administrator }
  | {
      readonly kind: 'change_password';
      /** The current password as checked outside against `passwordVersion`'s hash; when it matched, the new hash. */
      readonly check: { readonly matched: true; readonly newPasswordHash: string } | { readonly matched: false };
      readonly passwordVersion: number;
      readonly now: number;
      readonly policy: LockoutPolicy;
    }
  | { readonly kind: 'issue_api_key'; readonly keyId: string; readonly permissions: readonly string[]; readonly expiresAt: number; readonly catalog: RoleCatalog }
  | {
      readonly kind: 'password_attempt';
      /** The outcome of comparing the password with `passwordVersion`'s hash, done outside (argon2id is I/O here). */
      readonly matched: boolean;
      readonly passwordVersion: number;
      readonly now: number;
      readonly session: NewSession;
      readonly policy: LockoutPolicy;
    }
  | {
      readonly kind: 'totp_attempt';
      /** The time step the code belongs to, or undefined when it matches none near now. */
      readonly step: number | undefined;
      readonly now: number;
      readonly session: NewSession;
      readonly policy: LockoutPolicy;
    }
  | { readonly kind: 'recovery_attempt'; readonly sha256: string; readonly now: number; readonly session: NewSession; readonly policy: LockoutPolicy }
  | {
      /** Turning TOTP off, or new recovery codes: the current password and a second factor first, counted like a sign-in. */
      readonly kind: 'mfa_reauth';
      readonly change: { readonly kind: 'disable' } | { readonly kind: 'regenerate'; readonly codes: readonly string[] };
      readonly passwordMatched: boolean;
      readonly passwordVersion: number;
      readonly second: SecondFactor;
      readonly now: number;
      readonly policy: LockoutPolicy;
    }
  | { readonly kind: 'end_session'; readonly sessionId: string }
  | { readonly kind: 'enroll_mfa'; readonly enrollmentId: string; readonly secret: SealedSecret }
  | { readonly kind: 'confirm_mfa'; readonly enrollmentId: string; readonly step: number | undefined; readonly recoveryCodes: readonly string[] };

export const initialUser: UserState = {
  roles: [],
  disabled: false,
  deleted: false,
  passwordVersion: 0,
  failures: { password: 0, totp: 0 },
  lastTotpStep: -1,
  recoveryCodes: new Set(),
  spentRecoveryCodes: new Set(),
  sessions: [],
  apiKeys: new Map(),
};

export function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'auth.user.created':
      return { ...state, id: event.data.user_id, username: event.data.username, roles: event.data.roles };
    case 'auth.user.password_set':
      return { ...state, passwordHash: event.data.password_hash, passwordVersion: state.passwordVersion + 1 };
    case 'auth.user.disabled':
      return { ...state, disabled: true };
    case 'auth.user.deleted':
      return { ...state, deleted: true };
    case 'auth.user.restored':
      return { ...state, deleted: false };
    case 'auth.user.login_failed': {
      const factor = event.data.factor;
      if (event.data.locked_until !== undefined) {
        return { ...state, failures: { ...state.failures, [factor]: 0 }, lockedUntil: Date.parse(event.data.locked_until) };
      }
      return { ...state, failures: { ...state.failures, [factor]: state.failures[factor] + 1 } };
    }
    case 'auth.user.logged_in': {
      const used = event.data.recovery_code_sha256;
      return {
        ...state,
        failures: { password: 0, totp: 0 },
        lastTotpStep: event.data.totp_step ?? state.lastTotpStep,
        sessions: [...state.sessions, { id: event.data.session_id, expiresAt: Date.parse(event.data.expires_at) }],
        ...(used === undefined ? {} : { recoveryCodes: without(state.recoveryCodes, used), spentRecoveryCodes: new Set([...state.spentRecoveryCodes, used]) }),
      };
    }
    case 'auth.user.session_ended':
      return { ...state, sessions: state.sessions.filter((s) => s.id !== event.data.session_id) };
    case 'auth.user.mfa_enrolled':
      return { ...state, pendingMfa: { enrollmentId: event.data.enrollment_id, secret: event.data.secret } };
    case 'auth.user.mfa_confirmed': {
      const pending = state.pendingMfa;
      if (!pending) return state;
      const { pendingMfa: _done, ...rest } = state;
      return {
        ...rest,
        mfa: { secret: pending.secret },
        lastTotpStep: Math.max(state.lastTotpStep, event.data.step),
        recoveryCodes: new Set(event.data.recovery_codes_sha256 ?? []),
        spentRecoveryCodes: new Set(),
      };
    }
    case 'auth.user.recovery_codes_generated':
      return {
        ...state,
        recoveryCodes: new Set(event.data.codes_sha256),
        spentRecoveryCodes: new Set(),
        lastTotpStep: Math.max(state.lastTotpStep, event.data.totp_step ?? -1),
      };
    case 'auth.user.mfa_disabled': {
      const { mfa: _off, pendingMfa: _pending, ...rest } = state;
      return { ...rest, recoveryCodes: new Set(), spentRecoveryCodes: new Set(), lastTotpStep: Math.max(state.lastTotpStep, event.data.totp_step ?? -1) };
    }
    case 'auth.user.unlocked': {
      const { lockedUntil: _ended, ...rest } = state;
      return { ...rest, failures: { password: 0, totp: 0 } };
    }
    case 'auth.user.role_assigned':
      return state.roles.includes(event.data.role) ? state : { ...state, roles: [...state.roles, event.data.role] };
    case 'auth.user.role_revoked':
      return { ...state, roles: state.roles.filter((r) => r !== event.data.role) };
    case 'auth.user.api_key_issued':
      return {
        ...state,
        apiKeys: new Map([...state.apiKeys, [event.data.key_id, { permissions: event.data.permissions, expiresAt: Date.parse(event.data.expires_at) }]]),
      };
  }
}

export function isLocked(state: UserState, now: number): boolean {
  return state.lockedUntil !== undefined && state.lockedUntil > now;
}

function without(set: ReadonlySet<string>, value: string): ReadonlySet<string> {
  const next = new Set(set);
  next.delete(value);
  return next;
}

/** Whether a user may attempt to sign in at all; the attempt's outcome says nothing of which check failed. */
export function mayAttempt(state: UserState, now: number): boolean {
  return state.id !== undefined && !state.disabled && !state.deleted && !isLocked(state, now);
}

/** The failure a second factor that did not check out records, or undefined when it is good (TOTP: its step to spend). */
function secondFactorFailure(state: UserState, second: SecondFactor, now: number, policy: LockoutPolicy): Draft | undefined {
  if (second.kind === 'totp') {
    if (second.step === undefined) return failure(state, 'totp', 'wrong', now, policy);
    if (second.step <= state.lastTotpStep) return failure(state, 'totp', 'replayed', now, policy);
    return undefined;
  }
  if (state.recoveryCodes.has(second.sha256)) return undefined;
  return failure(state, 'totp', state.spentRecoveryCodes.has(second.sha256) ? 'replayed' : 'wrong', now, policy);
}

type Draft = EventDraft<UserEvent['type'], 1, UserEvent['data']>;

function failure(state: UserState, factor: Factor, reason: 'wrong' | 'replayed', now: number, policy: LockoutPolicy): Draft {
  const failures = state.failures[factor] + 1;
  const locks = failures >= policy.threshold;
  return {
    type: 'auth.user.login_failed',
    v: 1,
    data: { factor, reason, ...(locks ? { locked_until: new Date(now + policy.lockMs).toISOString() } : {}) },
  };
}

/**
 * A user's credentials and sign-in state. Each attempt is one append with the expected sequence of the user's
 * subject, so concurrent attempts are counted one by one and the lock lands exactly at the threshold.
 */
export function decideUser(command: UserCommand, state: UserState): Draft[] {
  switch (command.kind) {
    case 'create': {
      const password: Draft[] = command.passwordHash ? [{ type: 'auth.user.password_set', v: 1, data: { password_hash: command.passwordHash, by: 'admin' } }] : [];
      // Made already: a retry, which finishes a creation interrupted between its two events (the password not set yet).
      if (state.id !== undefined) return state.passwordVersion === 0 ? password : [];
      return [{ type: 'auth.user.created', v: 1, data: command.data }, ...password];
    }
    case 'set_password':
      if (state.id === undefined) return [];
      return [{ type: 'auth.user.password_set', v: 1, data: { password_hash: command.passwordHash, by: command.by } }];
    case 'disable':
      mayAdminister(state, command.by);
      return state.disabled ? [] : [{ type: 'auth.user.disabled', v: 1, data: { reason: command.reason } }];
    case 'delete':
      // Asked as if not deleted yet, so a retry by the same administrator is a no-op that finishes the clean-up.
      mayAdminister({ ...state, deleted: false }, command.by);
      return state.deleted ? [] : [{ type: 'auth.user.deleted', v: 1, data: { reason: command.reason } }];
    case 'restore':
      // Done already (a retry, or another administrator): nothing more to record.
      if (state.id !== undefined && !state.deleted) return [];
      mayAdminister({ ...state, deleted: false }, command.by);
      return [{ type: 'auth.user.restored', v: 1, data: {} }];
    case 'unlock':
      mayAdminister(state, command.by);
      return isLocked(state, command.now) || state.failures.password > 0 || state.failures.totp > 0 ? [{ type: 'auth.user.unlocked', v: 1, data: {} }] : [];
    case 'assign_role':
      mayAdminister(state, command.by);
      if (command.by.catalog.grants(command.role) === undefined) throw new RoleNotFoundError(command.role);
      if (!mayGrant(command.by, [command.role], command.by.catalog)) throw new ForbiddenError('to grant roles beyond your own');
      if (state.disabled) throw new UserStateError('the user is disabled');
      return state.roles.includes(command.role) ? [] : [{ type: 'auth.user.role_assigned', v: 1, data: { role: command.role } }];
    case 'revoke_role':
      mayAdminister(state, command.by);
      if (!mayGrant(command.by, [command.role], command.by.catalog)) throw new ForbiddenError('to grant roles beyond your own');
      if (!state.roles.includes(command.role)) return [];
      if (state.roles.length === 1) throw new UserStateError('a user keeps at least one role: disable the user instead');
      return [{ type: 'auth.user.role_revoked', v: 1, data: { role: command.role } }];
    case 'change_password': {
      // Re-authentication: refused before counting like a sign-in; a wrong current password counts toward the lock.
      if (!mayAttempt(state, command.now) || command.passwordVersion !== state.passwordVersion) return [];
      if (!command.check.matched) return [failure(state, 'password', 'wrong', command.now, command.policy)];
      return [{ type: 'auth.user.password_set', v: 1, data: { password_hash: command.check.newPasswordHash, by: 'self' } }];
    }
    case 'issue_api_key': {
      if (state.id === undefined || state.disabled || state.deleted) throw new ForbiddenError(permissions.apiKeysCreate);
      const own: ReadonlySet<string> = permissionsOf(state.roles, command.catalog);
      if (!own.has(permissions.apiKeysCreate)) throw new ForbiddenError(permissions.apiKeysCreate);
      const beyond = command.permissions.find((p) => !own.has(p));
      if (beyond !== undefined) throw new ForbiddenError(beyond);
      if (state.apiKeys.has(command.keyId)) return [];
      return [
        {
          type: 'auth.user.api_key_issued',
          v: 1,
          data: { key_id: command.keyId, permissions: [...command.permissions], expires_at: new Date(command.expiresAt).toISOString() },
        },
      ];
    }
    case 'password_attempt': {
      // Refused before counting: a locked account does not extend its own lock, and a stale check counts for nothing.
      if (!mayAttempt(state, command.now) || command.passwordVersion !== state.passwordVersion) return [];
      if (!command.matched) return [failure(state, 'password', 'wrong', command.now, command.policy)];
      // The second factor comes next; the failures are cleared only when it succeeds.
      if (state.mfa) return [];
      return [{ type: 'auth.user.logged_in', v: 1, data: { session_id: command.session.id, expires_at: new Date(command.session.expiresAt).toISOString(), mfa: false } }];
    }
    case 'totp_attempt': {
      if (!mayAttempt(state, command.now) || !state.mfa) return [];
      const failed = secondFactorFailure(state, { kind: 'totp', step: command.step }, command.now, command.policy);
      if (failed) return [failed];
      if (command.step === undefined) return [];
      return [
        {
          type: 'auth.user.logged_in',
          v: 1,
          data: { session_id: command.session.id, expires_at: new Date(command.session.expiresAt).toISOString(), mfa: true, totp_step: command.step },
        },
      ];
    }
    case 'recovery_attempt': {
      if (!mayAttempt(state, command.now) || !state.mfa) return [];
      const failed = secondFactorFailure(state, { kind: 'recovery_code', sha256: command.sha256 }, command.now, command.policy);
      if (failed) return [failed];
      return [
        {
          type: 'auth.user.logged_in',
          v: 1,
          data: { session_id: command.session.id, expires_at: new Date(command.session.expiresAt).toISOString(), mfa: true, recovery_code_sha256: command.sha256 },
        },
      ];
    }
    case 'mfa_reauth': {
      // Refused before counting, like a sign-in: a locked account does not extend its lock; a stale check counts for nothing.
      if (!mayAttempt(state, command.now) || command.passwordVersion !== state.passwordVersion) return [];
      if (!state.mfa) throw new MfaStateError('MFA is not enabled');
      if (!command.passwordMatched) return [failure(state, 'password', 'wrong', command.now, command.policy)];
      const failed = secondFactorFailure(state, command.second, command.now, command.policy);
      if (failed) return [failed];
      // One event: the factor is spent exactly when the change happens.
      const step = command.second.kind === 'totp' && command.second.step !== undefined ? { totp_step: command.second.step } : {};
      if (command.change.kind === 'disable') return [{ type: 'auth.user.mfa_disabled', v: 1, data: step }];
      return [{ type: 'auth.user.recovery_codes_generated', v: 1, data: { codes_sha256: [...command.change.codes], ...step } }];
    }
    case 'end_session':
      return state.sessions.some((s) => s.id === command.sessionId) ? [{ type: 'auth.user.session_ended', v: 1, data: { session_id: command.sessionId } }] : [];
    case 'enroll_mfa':
      if (state.id === undefined) return [];
      if (state.mfa) throw new MfaStateError('MFA is already enabled');
      return [{ type: 'auth.user.mfa_enrolled', v: 1, data: { enrollment_id: command.enrollmentId, secret: command.secret } }];
    case 'confirm_mfa': {
      if (state.mfa && !state.pendingMfa) throw new MfaStateError('MFA is already enabled');
      if (!state.pendingMfa || state.pendingMfa.enrollmentId !== command.enrollmentId) throw new MfaStateError('no MFA enrollment is pending');
      if (command.step === undefined || command.step <= state.lastTotpStep) throw new MfaFailedError();
      return [
        {
          type: 'auth.user.mfa_confirmed',
          v: 1,
          data: { enrollment_id: command.enrollmentId, step: command.step, ...(command.recoveryCodes.length > 0 ? { recovery_codes_sha256: [...command.recoveryCodes] } : {}) },
        },
      ];
    }
  }
}

/**
 * Who may act on a user (disable, unlock, change roles): an administrator of the same tenant who could have granted
 * every role the user holds, so an admin can never lock out or demote an owner; and never on their own account, so
 * the last owner cannot demote or disable themselves out of the tenant.
 */
function mayAdminister(state: UserState, by: Administrator): void {
  // A deleted user is gone for every administration but a restore (which asks as if they were not).
  if (state.id === undefined || state.deleted) throw new UserNotFoundError();
  if (state.id === by.userId) throw new UserStateError('you cannot do this to your own account');
  if (!mayGrant(by, state.roles, by.catalog)) throw new ForbiddenError('to manage a user with roles beyond your own');
}

/** API keys of a user that carry a permission the user no longer holds (after a role was revoked, or a custom role cut down). */
export function apiKeysBeyondRoles(state: UserState, catalog: RoleCatalog): string[] {
  const own: ReadonlySet<string> = permissionsOf(state.roles, catalog);
  return [...state.apiKeys].filter(([, key]) => key.permissions.some((p) => !own.has(p))).map(([id]) => id);
}

/** Sessions beyond the limit once `incoming` opens, oldest first: those a new login ends. */
export function sessionsOverLimit(state: UserState, now: number, limit: number): string[] {
  const live = state.sessions.filter((s) => s.expiresAt > now);
  return live.slice(0, Math.max(0, live.length - limit)).map((s) => s.id);
}

export const userDecider: Decider<UserCommand, UserState, UserEvent> = {
  events: userEvents,
  initialState: () => initialUser,
  evolve: evolveUser,
  decide: decideUser,
};
