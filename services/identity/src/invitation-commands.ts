import { AggregateCache, createEvent, handleCommand, isVigilError } from '@vigil/bus';
import { digestsEqual, hashPassword, open, seal, sha256Hex, uuidv7, verifyPassword } from '@vigil/crypto';
import {
  invitationDefaultLifetimeSeconds,
  InvitationInvalidError,
  invitationOf,
  NameTakenError,
  permissions,
  QuotaExceededError,
  TenantUnavailableError,
  type AcceptInvitationRequest,
  type Done,
  type InvitationPage,
  type IssuedInvitation,
  type ListInvitationsRequest,
  type NewInvitation,
  type UserCreatedResult,
} from '@vigil/identity-contract';
import { InvitationChangedAudit, type Actor } from '@vigil/schemas';
import { claimDecider, type ClaimCommand, type ClaimEvent, type ClaimState } from './claim.ts';
import { requireGrantable } from './custom-roles.ts';
import { decideAndAppend, type IdentityContext, type TenantCaller } from './identity-context.ts';
import { InvitationDirectory } from './invitation-directory.ts';
import { newInvitationToken } from './invitation-token.ts';
import { invitationDecider, invitedUserId, isAcceptable, type InvitationCommand, type InvitationEvent, type InvitationState, type ReopenReason } from './invitation.ts';
import { claimSubject, invitationSubject, nameHash, userSubject } from './subjects.ts';
import type { UserAdministration } from './user-admin.ts';

/**
 * An acceptance this old whose user is still not made was interrupted (the request that made it has long ended, a
 * worker crashed or the bus failed mid-way): the next acceptance with the same token, username and password finishes
 * it. Younger, it may still be in progress, and a second request must not make the user alongside it.
 */
export const interruptedAfterMs = 60_000;

/** What the e-mail address of an invitation is sealed to: opened only for it. */
const emailContext = (invitationId: string) => `identity.invitation.email:${invitationId}`;

/** Refusals of the user's creation that are final for this acceptance: the invitation is pending again, to retry otherwise. */
function reopenReason(err: unknown): ReopenReason | undefined {
  if (err instanceof NameTakenError) return 'name_taken';
  if (err instanceof QuotaExceededError) return 'quota_exceeded';
  if (err instanceof TenantUnavailableError) return 'tenant_unavailable';
  return undefined;
}

/**
 * Invitations: an administrator with `users:create` invites someone by e-mail address with roles within their own; the
 * person invited accepts with the token and chooses a username and password, which makes their user exactly as
 * `create_user` does (a seat, the two names, the user). The acceptance is decided on the invitation's subject with
 * the expected sequence, before the user is made, so of concurrent acceptances exactly one wins and a revocation or
 * the expiry is ordered with it; it holds all that making the user needs, so an interrupted one is finished later.
 */
export class InvitationCommands {
  readonly #ctx: IdentityContext;
  readonly #users: UserAdministration;
  readonly #invitations: AggregateCache<InvitationCommand, InvitationState, InvitationEvent>;
  readonly #claims: AggregateCache<ClaimCommand, ClaimState, ClaimEvent>;
  readonly #directory: InvitationDirectory;

  constructor(ctx: IdentityContext, users: UserAdministration) {
    this.#ctx = ctx;
    this.#users = users;
    this.#invitations = new AggregateCache(ctx.bus, invitationDecider);
    this.#claims = new AggregateCache(ctx.bus, claimDecider);
    this.#directory = new InvitationDirectory(ctx.bus);
  }

  async start(): Promise<void> {
    await this.#directory.start();
  }

  async stop(): Promise<void> {
    await this.#directory.stop();
  }

  /** A new invitation into the caller's tenant; its token is in this answer only. */
  async issue(caller: TenantCaller, data: NewInvitation): Promise<IssuedInvitation> {
    const ctx = this.#ctx;
    const acting = await ctx.require(caller, permissions.usersCreate);
    requireGrantable(acting, data.roles);
    const { tenant, actor } = acting;
    // Early word for the inviter, not a decision: the acceptance settles the address on its claim like any creation.
    const { state: claim } = await this.#claims.read(claimSubject(tenant, 'email', data.email));
    if (claim.holder !== undefined) throw new NameTakenError('e-mail address');
    const invitationId = uuidv7();
    const { token, sha256 } = newInvitationToken(tenant, invitationId);
    const expiresAt = new Date(Date.now() + (data.expires_in_seconds ?? invitationDefaultLifetimeSeconds) * 1000).toISOString();
    const email = seal(ctx.ring, Buffer.from(data.email, 'utf8'), emailContext(invitationId));
    const { seq } = await handleCommand(ctx.bus, {
      subject: invitationSubject(tenant, invitationId),
      decider: invitationDecider,
      command: {
        kind: 'issue',
        data: {
          invitation_id: invitationId,
          email_sha256: nameHash(tenant, 'email', data.email),
          email: { kek_id: email.kekId, sealed: email.data.toString('base64') },
          roles: [...data.roles],
          expires_at: expiresAt,
          token_sha256: sha256,
        },
      },
      meta: { actor, tenant },
      cache: this.#invitations,
    });
    // Read-your-writes: the list this replica answers shows it at once.
    await this.#directory.reach(seq);
    ctx.admin.info({ tenant, invitation_id: invitationId, roles: data.roles }, 'invitation issued');
    await ctx.record(
      createEvent(
        InvitationChangedAudit,
        { category: 'administration', severity: 'notice', invitation_id: invitationId, change: 'issued', roles: [...data.roles], expires_at: expiresAt },
        { actor, tenant },
      ),
    );
    return { invitation_id: invitationId, token, expires_at: expiresAt };
  }

  /**
   * The person invited joins: the token must open a pending invitation that has not expired, whose issuer may still
   * grant its roles; then the acceptance is appended (the one decision: of concurrent ones exactly one lands) and the
   * user is made from it. Every refusal of the token is the same InvitationInvalidError.
   */
  async accept(data: AcceptInvitationRequest): Promise<UserCreatedResult> {
    const ctx = this.#ctx;
    const named = invitationOf(data.token);
    if (!named) throw new InvitationInvalidError();
    const { tenant, invitationId } = named;
    const subject = invitationSubject(tenant, invitationId);
    const tokenSha256 = sha256Hex(data.token);
    const { state } = await this.#invitations.read(subject);
    if (!isAcceptable(state, tokenSha256, Date.now())) return this.#finishInterrupted(tenant, state, tokenSha256, data);
    await this.#issuerMayGrant(tenant, state);
    ctx.checkPassword(data.password, data.username);
    const userId = invitedUserId(invitationId);
    const acceptance = { user_id: userId, username: data.username, password_hash: await hashPassword(data.password) };
    // Decided again at the append, with the time of the append: expired or revoked meanwhile, or accepted by a
    // concurrent request, it is refused here, before anything of the user exists.
    const { state: accepted, seq } = await handleCommand(ctx.bus, {
      subject,
      decider: invitationDecider,
      command: { kind: 'accept', tokenSha256, now: Date.now(), acceptance },
      meta: { actor: { kind: 'user', id: userId }, tenant },
      cache: this.#invitations,
    });
    await this.#directory.reach(seq);
    return this.#makeUser(tenant, accepted);
  }

  /**
   * An acceptance interrupted before its user was made, presented again with the same token, username and password:
   * made now. Anything else that does not open a pending invitation is refused, with the one answer.
   */
  async #finishInterrupted(tenant: string, state: InvitationState, tokenSha256: string, data: AcceptInvitationRequest): Promise<UserCreatedResult> {
    const acceptance = state.acceptance;
    const interrupted =
      state.status === 'accepted' &&
      acceptance !== undefined &&
      state.tokenSha256 !== undefined &&
      digestsEqual(state.tokenSha256, tokenSha256) &&
      Date.now() - acceptance.at > interruptedAfterMs &&
      acceptance.username === data.username &&
      !(await this.#userMade(tenant, acceptance.user_id)) &&
      (await verifyPassword(acceptance.password_hash, data.password));
    if (!interrupted) throw new InvitationInvalidError();
    this.#ctx.admin.info({ tenant, invitation_id: state.id, user_id: acceptance.user_id }, 'interrupted invitation acceptance resumed');
    return this.#makeUser(tenant, state);
  }

  async #userMade(tenant: string, userId: string): Promise<boolean> {
    const { state } = await this.#ctx.users.read(userSubject(tenant, userId));
    return state.id !== undefined && state.passwordVersion > 0;
  }

  /**
   * The invitation acts with its issuer's authority, checked again now as when it was issued: an issuer disabled,
   * deleted or without the roles' permissions any more, an API key revoked or expired, a suspended tenant, a role
   * gone: the invitation no longer opens.
   */
  async #issuerMayGrant(tenant: string, state: InvitationState): Promise<void> {
    const issuer = state.issuedBy;
    if (!issuer) throw new InvitationInvalidError();
    try {
      requireGrantable(await this.#ctx.require({ actor: issuer, tenant }, permissions.usersCreate), state.roles);
    } catch (err) {
      // A refusal (4xx) of the issuer is the invitation's refusal; a failure of the bus stays one.
      if (isVigilError(err) && err.statusCode < 500) throw new InvitationInvalidError();
      throw err;
    }
  }

  /**
   * The accepted user, made as `create_user` makes one (idempotent for its id). Refused for good (a name taken, the
   * quota full, the tenant suspended), the invitation is reopened: what the refused run took was given back, and the
   * person may try again with another username. Any other failure leaves the acceptance for a later attempt to finish.
   */
  async #makeUser(tenant: string, state: InvitationState): Promise<UserCreatedResult> {
    const ctx = this.#ctx;
    const { acceptance, email, id } = state;
    if (!acceptance || !email || !id) throw new InvitationInvalidError();
    const userId = acceptance.user_id;
    const actor: Actor = { kind: 'user', id: userId };
    const address = open(ctx.ring, { kekId: email.kek_id, data: Buffer.from(email.sealed, 'base64') }, emailContext(id)).toString('utf8');
    try {
      await this.#users.make(tenant, userId, { username: acceptance.username, email: address, roles: [...state.roles], passwordHash: acceptance.password_hash }, actor);
    } catch (err) {
      const reason = reopenReason(err);
      if (reason) {
        const reopened = await handleCommand(ctx.bus, {
          subject: invitationSubject(tenant, id),
          decider: invitationDecider,
          command: { kind: 'reopen', userId, reason },
          meta: { actor, tenant },
          cache: this.#invitations,
        });
        await this.#directory.reach(reopened.seq);
        ctx.admin.info({ tenant, invitation_id: id, reason }, 'invitation acceptance refused: pending again');
      }
      throw err;
    }
    ctx.admin.info({ tenant, invitation_id: id, user_id: userId, roles: state.roles }, 'invitation accepted');
    await ctx.record(
      createEvent(
        InvitationChangedAudit,
        { category: 'administration', severity: 'notice', invitation_id: id, change: 'accepted', roles: [...state.roles], user_id: userId },
        { actor, tenant },
      ),
    );
    return { user_id: userId, tenant };
  }

  /** Revokes a pending invitation of the caller's tenant (expired ones too); another tenant's, or one accepted, is not found. */
  async revoke(caller: TenantCaller, invitationId: string): Promise<Done> {
    const ctx = this.#ctx;
    const { tenant, actor } = await ctx.require(caller, permissions.usersCreate);
    const { state, seq, decided } = await decideAndAppend(ctx.bus, invitationSubject(tenant, invitationId), invitationDecider, { kind: 'revoke' }, { actor, tenant }, this.#invitations);
    if (decided.length > 0) {
      await this.#directory.reach(seq);
      ctx.admin.info({ tenant, invitation_id: invitationId }, 'invitation revoked');
      await ctx.record(
        createEvent(InvitationChangedAudit, { category: 'administration', severity: 'notice', invitation_id: invitationId, change: 'revoked', roles: [...state.roles] }, { actor, tenant }),
      );
    }
    return { done: true };
  }

  /** One page of the caller's tenant's pending invitations, from memory; e-mail addresses opened for the page only, as in the user list. */
  async list(caller: TenantCaller, request: ListInvitationsRequest): Promise<InvitationPage> {
    const ctx = this.#ctx;
    const { tenant } = await ctx.require(caller, permissions.usersRead);
    const page = this.#directory.page(tenant, { limit: request.limit, ...(request.after === undefined ? {} : { after: request.after }) });
    const now = Date.now();
    return {
      invitations: page.invitations.map((i) => ({
        id: i.id,
        email: open(ctx.ring, { kekId: i.email.kek_id, data: Buffer.from(i.email.sealed, 'base64') }, emailContext(i.id)).toString('utf8'),
        roles: [...i.roles],
        status: i.expiresAt > now ? 'pending' : 'expired',
        created_at: i.createdAt,
        expires_at: new Date(i.expiresAt).toISOString(),
      })),
      next: page.next,
    };
  }
}
