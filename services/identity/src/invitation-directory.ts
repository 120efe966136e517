import { followEvents, isEventOf, type Bus, type Following } from '@vigil/bus';
import type { Role } from '@vigil/identity-contract';
import type { AnyEnvelope } from '@vigil/schemas';
import { invitationEvents, type IssuedData } from './invitation.ts';

/** Every invitation aggregate of every tenant: what the directory follows. */
export const invitationEventsFilter = 'auth.*.invitation.*';

/** What an administrator's list shows of a pending invitation (never its token or the token's hash). */
export interface PendingInvitation {
  readonly id: string;
  /** Sealed as stored: opened only for the page being answered. */
  readonly email: IssuedData['email'];
  readonly roles: readonly Role[];
  readonly createdAt: string;
  readonly expiresAt: number;
}

/**
 * The pending invitations of every tenant, in memory, followed from `auth.*.invitation.*` from the start of the stream,
 * as the user list is (`user-directory.ts`): an accepted or revoked invitation leaves it (reopened, it is back). Only
 * the list reads it; acceptances and revocations are decided on each invitation's own subject.
 */
export class InvitationDirectory {
  readonly #bus: Bus;
  readonly #tenants = new Map<string, Map<string, PendingInvitation>>();
  /** Issued invitations, kept to bring one back to the list when it is reopened. */
  readonly #issued = new Map<string, PendingInvitation>();
  #following: Following | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, invitationEventsFilter, ({ event, subject }) => {
      // `auth.<tenant>.invitation.<invitation id>`
      const [, tenant, , invitationId] = subject.split('.');
      if (tenant && invitationId) this.#apply(tenant, invitationId, event);
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

  #apply(tenant: string, invitationId: string, event: AnyEnvelope): void {
    if (!isEventOf(invitationEvents, event)) return;
    const pending = this.#tenants.get(tenant) ?? new Map<string, PendingInvitation>();
    this.#tenants.set(tenant, pending);
    const key = `${tenant}.${invitationId}`;
    switch (event.type) {
      case 'auth.invitation.issued': {
        const d = event.data;
        const invitation = { id: invitationId, email: d.email, roles: d.roles, createdAt: event.at, expiresAt: Date.parse(d.expires_at) };
        this.#issued.set(key, invitation);
        pending.set(invitationId, invitation);
        return;
      }
      case 'auth.invitation.reopened': {
        const invitation = this.#issued.get(key);
        if (invitation) pending.set(invitationId, invitation);
        return;
      }
      case 'auth.invitation.accepted':
        pending.delete(invitationId);
        return;
      case 'auth.invitation.revoked':
        pending.delete(invitationId);
        this.#issued.delete(key);
        return;
    }
  }

  /** One page of a tenant's pending invitations (expired ones too, until revoked) in id order (UUIDv7: issue order). */
  page(tenant: string, query: { readonly after?: string; readonly limit: number }): { invitations: PendingInvitation[]; next: string | null } {
    const all = [...(this.#tenants.get(tenant)?.values() ?? [])]
      .filter((i) => query.after === undefined || i.id > query.after)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const invitations = all.slice(0, query.limit);
    const last = invitations.at(-1);
    return { invitations, next: all.length > query.limit && last ? last.id : null };
  }
}
