import { serve, type BusRequest, type Caller, type Served } from '@vigil/bus';
import {
  identitySubjects,
  parseApiKeyRef,
  parseChangePasswordRequest,
  parseChangeTenantPlanRequest,
  parseChangeTenantQuotasRequest,
  parseConfirmMfaRequest,
  parseCreateApiKeyRequest,
  parseCreateTenantRequest,
  parseDefineRoleRequest,
  parseDeleteUserRequest,
  parseDisableUserRequest,
  parseListApiKeysRequest,
  parseListUsersRequest,
  parseAcceptInvitationRequest,
  parseInvitationRef,
  parseListInvitationsRequest,
  parseNewInvitation,
  parseLoginRequest,
  parseMfaReauthRequest,
  parseNewUser,
  parseRefreshRequest,
  parseRevokeSessionRequest,
  parseRoleChangeRequest,
  parseRoleRef,
  parseSessionRef,
  parseSuspendTenantRequest,
  parseTenantRef,
  parseUserRef,
  parseVerifyMfaRequest,
  SessionRequiredError,
  TokenInvalidError,
  type CreateTenantRequest,
  type Jwks,
  type NewUser,
  type TenantCreatedResult,
  type UserCreatedResult,
} from '@vigil/identity-contract';
import { ApiKeyCommands } from './api-key-commands.ts';
import { CustomRoleCommands } from './custom-role-commands.ts';
import { IdentityContext, serviceActor, type IdentityWorkerOptions, type TenantCaller } from './identity-context.ts';
import { InvitationCommands } from './invitation-commands.ts';
import { MfaCommands } from './mfa-commands.ts';
import { changePassword } from './password-change.ts';
import { SessionCommands } from './session-commands.ts';
import { SignIn } from './sign-in.ts';
import { TenantAdministration } from './tenant-admin.ts';
import type { TenantDirectory } from './tenant-directory.ts';
import { UserAdministration } from './user-admin.ts';

export type { IdentityPolicy, IdentityWorkerOptions } from './identity-context.ts';

/**
 * The identity worker: tenants, users, credentials, sessions, TOTP and API keys, serving `cmd.identity.*` and
 * `qry.identity.*`. Stateless across restarts: every decision that must not race (a unique name, a seat of the
 * quota, a failed attempt, a refresh-token rotation, a recovery code) is an append with the expected last subject
 * sequence. Each concern is its own module; this class wires them to their subjects.
 */
export class IdentityWorker {
  readonly #ctx: IdentityContext;
  readonly #sessions: SessionCommands;
  readonly #signIn: SignIn;
  readonly #mfa: MfaCommands;
  readonly #apiKeys: ApiKeyCommands;
  readonly #users: UserAdministration;
  readonly #tenants: TenantAdministration;
  readonly #roles: CustomRoleCommands;
  readonly #invitations: InvitationCommands;
  readonly #served: Served[] = [];

  constructor(options: IdentityWorkerOptions) {
    this.#ctx = new IdentityContext(options);
    this.#sessions = new SessionCommands(this.#ctx);
    this.#signIn = new SignIn(this.#ctx, this.#sessions);
    this.#mfa = new MfaCommands(this.#ctx);
    this.#apiKeys = new ApiKeyCommands(this.#ctx);
    this.#users = new UserAdministration(this.#ctx, this.#sessions, this.#apiKeys);
    this.#tenants = new TenantAdministration(this.#ctx, this.#users);
    this.#roles = new CustomRoleCommands(this.#ctx, this.#apiKeys);
    this.#invitations = new InvitationCommands(this.#ctx, this.#users);
  }

  get tenants(): TenantDirectory {
    return this.#ctx.tenants;
  }

  async start(): Promise<void> {
    const ctx = this.#ctx;
    await Promise.all([ctx.tenants.start(), ctx.people.start(), this.#apiKeys.start(), this.#invitations.start()]);
    const s = identitySubjects;
    const bus = ctx.bus;
    const callerOf = (r: BusRequest<unknown>): TenantCaller => {
      const c = r.caller;
      if (!c || (c.actor.kind !== 'user' && c.actor.kind !== 'api_key') || !c.tenant) throw new TokenInvalidError();
      return { ...c, tenant: c.tenant };
    };
    /** Routes about one's own sign-in need the person, not a key acting for them. */
    const personOf = (r: BusRequest<unknown>): TenantCaller => {
      const c = callerOf(r);
      if (c.actor.kind !== 'user') throw new SessionRequiredError();
      return c;
    };
    const signIn = this.#signIn;
    const sessions = this.#sessions;
    const mfa = this.#mfa;
    const keys = this.#apiKeys;
    const users = this.#users;
    const tenants = this.#tenants;
    const roles = this.#roles;
    const invitations = this.#invitations;
    this.#served.push(
      serve(bus, { subject: s.jwks, parse: () => undefined, handle: async () => this.jwks() }),
      // Sign-in and sessions.
      serve(bus, { subject: s.login, parse: parseLoginRequest, handle: (r) => signIn.login(r.data) }),
      serve(bus, { subject: s.verifyMfa, parse: parseVerifyMfaRequest, handle: (r) => signIn.verifyMfa(r.data) }),
      serve(bus, { subject: s.refresh, parse: parseRefreshRequest, handle: (r) => sessions.refresh(r.data.refresh_token) }),
      serve(bus, { subject: s.logout, parse: parseSessionRef, handle: (r) => sessions.logout(personOf(r), r.data.session_id) }),
      serve(bus, { subject: s.revokeSession, parse: parseRevokeSessionRequest, handle: (r) => sessions.revoke(callerOf(r), r.data.session_id) }),
      serve(bus, { subject: s.sessions, parse: parseSessionRef, handle: (r) => sessions.list(personOf(r), r.data.session_id) }),
      // My own account.
      serve(bus, { subject: s.enrollMfa, parse: () => undefined, handle: (r) => mfa.enroll(personOf(r)) }),
      serve(bus, { subject: s.confirmMfa, parse: parseConfirmMfaRequest, handle: (r) => mfa.confirm(personOf(r), r.data.code) }),
      serve(bus, { subject: s.disableMfa, parse: parseMfaReauthRequest, handle: (r) => mfa.disable(personOf(r), r.data) }),
      serve(bus, { subject: s.regenerateRecoveryCodes, parse: parseMfaReauthRequest, handle: (r) => mfa.regenerate(personOf(r), r.data) }),
      serve(bus, { subject: s.changePassword, parse: parseChangePasswordRequest, handle: (r) => changePassword(ctx, sessions, personOf(r), r.data) }),
      // API keys.
      serve(bus, { subject: s.createApiKey, parse: parseCreateApiKeyRequest, handle: (r) => keys.create(personOf(r), r.data) }),
      serve(bus, { subject: s.apiKeys, parse: parseListApiKeysRequest, handle: (r) => keys.list(callerOf(r), r.data.all) }),
      serve(bus, { subject: s.revokeApiKey, parse: parseApiKeyRef, handle: (r) => keys.revoke(callerOf(r), r.data.key_id) }),
      // Users of a tenant.
      serve(bus, { subject: s.createUser, parse: parseNewUser, handle: (r) => users.createAsCaller(callerOf(r), r.data) }),
      serve(bus, { subject: s.users, parse: parseListUsersRequest, handle: (r) => users.list(callerOf(r), r.data) }),
      serve(bus, { subject: s.disableUser, parse: parseDisableUserRequest, handle: (r) => users.disable(callerOf(r), r.data.user_id, r.data.reason) }),
      serve(bus, { subject: s.deleteUser, parse: parseDeleteUserRequest, handle: (r) => users.delete(callerOf(r), r.data.user_id, r.data.reason) }),
      serve(bus, { subject: s.restoreUser, parse: parseUserRef, handle: (r) => users.restore(callerOf(r), r.data.user_id) }),
      serve(bus, { subject: s.unlockUser, parse: parseUserRef, handle: (r) => users.unlock(callerOf(r), r.data.user_id) }),
      serve(bus, { subject: s.assignRole, parse: parseRoleChangeRequest, handle: (r) => users.changeRole(callerOf(r), r.data.user_id, r.data.role, 'assigned') }),
      serve(bus, { subject: s.revokeRole, parse: parseRoleChangeRequest, handle: (r) => users.changeRole(callerOf(r), r.data.user_id, r.data.role, 'revoked') }),
      // Invitations (accepting one is public: the token is the credential).
      serve(bus, { subject: s.invite, parse: parseNewInvitation, handle: (r) => invitations.issue(callerOf(r), r.data) }),
      serve(bus, { subject: s.acceptInvitation, parse: parseAcceptInvitationRequest, handle: (r) => invitations.accept(r.data) }),
      serve(bus, { subject: s.invitations, parse: parseListInvitationsRequest, handle: (r) => invitations.list(callerOf(r), r.data) }),
      serve(bus, { subject: s.revokeInvitation, parse: parseInvitationRef, handle: (r) => invitations.revoke(callerOf(r), r.data.invitation_id) }),
      // Custom roles.
      serve(bus, { subject: s.roles, parse: () => undefined, handle: (r) => roles.list(callerOf(r)) }),
      serve(bus, { subject: s.defineRole, parse: parseDefineRoleRequest, handle: (r) => roles.define(callerOf(r), r.data) }),
      serve(bus, { subject: s.deleteRole, parse: parseRoleRef, handle: (r) => roles.delete(callerOf(r), r.data.role) }),
      // Tenants.
      serve(bus, { subject: s.createTenant, parse: parseCreateTenantRequest, handle: (r) => tenants.createAsCaller(callerOf(r), r.data) }),
      serve(bus, { subject: s.suspendTenant, parse: parseSuspendTenantRequest, handle: (r) => tenants.suspend(callerOf(r), r.data.tenant_id, r.data.reason) }),
      serve(bus, { subject: s.reactivateTenant, parse: parseTenantRef, handle: (r) => tenants.reactivate(callerOf(r), r.data.tenant_id) }),
      serve(bus, { subject: s.changeTenantPlan, parse: parseChangeTenantPlanRequest, handle: (r) => tenants.changePlan(callerOf(r), r.data) }),
      serve(bus, { subject: s.changeTenantQuotas, parse: parseChangeTenantQuotasRequest, handle: (r) => tenants.changeQuotas(callerOf(r), r.data) }),
    );
  }

  async stop(): Promise<void> {
    for (const s of this.#served) await s.stop();
    await this.#invitations.stop();
    await this.#ctx.people.stop();
    await this.#ctx.tenants.stop();
  }

  jwks(): Jwks {
    return { keys: [...this.#ctx.keys.publicKeys] };
  }

  /** A tenant with its owner, as the service itself (tests and tools; over the bus, a platform administrator). */
  async createTenant(data: CreateTenantRequest, actor: Caller['actor'] = serviceActor): Promise<TenantCreatedResult> {
    return this.#tenants.create(data, actor);
  }

  async createUser(tenant: string, data: NewUser, actor: Caller['actor'] = serviceActor): Promise<UserCreatedResult> {
    return this.#users.create(tenant, data, actor);
  }

  async bootstrapAdmin(username: string, email: string, password: string): Promise<'created' | 'exists'> {
    return this.#tenants.bootstrapAdmin(username, email, password);
  }
}
