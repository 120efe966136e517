import { followEvents, isEventOf, type Bus, type Following } from '@vigil/bus';
import type { Role } from '@vigil/identity-contract';
import type { AnyEnvelope } from '@vigil/schemas';
import { userEvents, type SealedSecret } from './user.ts';

/** Every user aggregate of every tenant: what the directory follows. */
export const userEventsFilter = 'auth.*.user.*';

/** What an administrator's list shows of a user, folded from the user's events (never a credential). */
export interface UserSummary {
  readonly id: string;
  readonly username: string;
  /** Sealed as stored: opened only for the page being answered. */
  readonly email: SealedSecret;
  readonly roles: readonly Role[];
  readonly disabled: boolean;
  readonly deleted: boolean;
  readonly lockedUntil?: number;
  readonly mfa: boolean;
  readonly createdAt: string;
}

export type UserStatus = 'active' | 'disabled' | 'deleted';

export function statusOf(user: UserSummary): UserStatus {
  if (user.deleted) return 'deleted';
  return user.disabled ? 'disabled' : 'active';
}

/** Applies one event of a user's subject to its summary; events before the user's creation change nothing. */
export function evolveUserSummary(user: UserSummary | undefined, event: AnyEnvelope): UserSummary | undefined {
  if (!isEventOf(userEvents, event)) return user;
  if (event.type === 'auth.user.created') {
    const d = event.data;
    return user ?? { id: d.user_id, username: d.username, email: d.email, roles: d.roles, disabled: false, deleted: false, mfa: false, createdAt: event.at };
  }
  if (!user) return user;
  switch (event.type) {
    case 'auth.user.disabled':
      return { ...user, disabled: true };
    case 'auth.user.deleted':
      return { ...user, deleted: true };
    case 'auth.user.restored':
      return { ...user, deleted: false };
    case 'auth.user.login_failed': {
      const until = event.data.locked_until;
      return until === undefined ? user : { ...user, lockedUntil: Date.parse(until) };
    }
    case 'auth.user.unlocked':
    case 'auth.user.logged_in': {
      if (user.lockedUntil === undefined) return user;
      const { lockedUntil: _ended, ...rest } = user;
      return rest;
    }
    case 'auth.user.mfa_confirmed':
      return { ...user, mfa: true };
    case 'auth.user.mfa_disabled':
      return { ...user, mfa: false };
    case 'auth.user.role_assigned':
      return user.roles.includes(event.data.role) ? user : { ...user, roles: [...user.roles, event.data.role] };
    case 'auth.user.role_revoked':
      return { ...user, roles: user.roles.filter((r) => r !== event.data.role) };
    default:
      return user;
  }
}

export interface UserPageQuery {
  readonly after?: string;
  readonly limit: number;
  readonly status?: UserStatus;
}

/**
 * The users of every tenant, in memory, followed from `auth.*.user.*` (an ordered consumer from the start of the
 * stream): what an administrator's list is answered from. No database: identity has none, and at Vigil's scale (up
 * to some tens of thousands of users per deployment) a summary per user is a few hundred bytes. The cost grows with
 * the user events, not the users: each sign-in adds one or two, all read again at start; a Postgres projection is
 * the next step if that replay ever gets long. Decisions never read it: they are settled on each user's subject.
 */
export class UserDirectory {
  readonly #bus: Bus;
  readonly #tenants = new Map<string, Map<string, UserSummary>>();
  /** `<tenant>/<username>` → user id: usernames stay claimed by their user for good, deleted or not. */
  readonly #byName = new Map<string, string>();
  #following: Following | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, userEventsFilter, ({ event, subject }) => {
      // `auth.<tenant>.user.<user id>`
      const [, tenant, , userId] = subject.split('.');
      if (!tenant || !userId) return;
      const users = this.#tenants.get(tenant) ?? new Map<string, UserSummary>();
      const next = evolveUserSummary(users.get(userId), event);
      if (!next) return;
      users.set(userId, next);
      this.#tenants.set(tenant, users);
      this.#byName.set(`${tenant}/${next.username}`, userId);
    });
    await this.#following.caughtUp;
  }

  async stop(): Promise<void> {
    await this.#following?.stop();
  }

  /** Waits until the directory has seen an append (read-your-writes on the replica that made it). */
  async reach(seq: number): Promise<void> {
    await this.#following?.reach(seq);
  }

  /** The user a (normalized) username names in a tenant, if this directory has seen them made. */
  idOf(tenant: string, username: string): string | undefined {
    return this.#byName.get(`${tenant}/${username}`);
  }

  /** The ids of a tenant's users (not deleted) who hold a role: whose API keys a cut-down custom role must check. */
  holding(tenant: string, role: string): string[] {
    return [...(this.#tenants.get(tenant)?.values() ?? [])].filter((u) => !u.deleted && u.roles.includes(role)).map((u) => u.id);
  }

  /** One page of a tenant's users in id order (UUIDv7: creation order), after the id `after`. */
  page(tenant: string, query: UserPageQuery): { users: UserSummary[]; next: string | null } {
    const all = [...(this.#tenants.get(tenant)?.values() ?? [])]
      .filter((u) => (query.after === undefined || u.id > query.after) && (query.status === undefined || statusOf(u) === query.status))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const users = all.slice(0, query.limit);
    const last = users.at(-1);
    return { users, next: all.length > query.limit && last ? last.id : null };
  }
}
