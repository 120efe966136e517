import { replyParser, requestParser } from '@vigil/bus';
import Compile from 'typebox/compile';
import {
  AccessClaims,
  ApiKeyList,
  ApiKeyRef,
  ChangePasswordRequest,
  ChangeTenantQuotasRequest,
  DeleteUserRequest,
  ListUsersRequest,
  MfaReauthRequest,
  RecoveryCodes,
  SuspendTenantRequest,
  TenantRef,
  TenantView,
  UserPage,
  CreateApiKeyRequest,
  CreatedApiKey,
  DisableUserRequest,
  ListApiKeysRequest,
  RoleChangeRequest,
  UserRef,
  UserRoles,
  ConfirmMfaRequest,
  CreateTenantRequest,
  Done,
  Jwks,
  LoginRequest,
  LoginResult,
  MfaEnrollment,
  NewUser,
  RefreshRequest,
  RevokeSessionRequest,
  SessionList,
  SessionRef,
  TenantCreatedResult,
  TokenPair,
  UserCreatedResult,
  VerifyMfaRequest,
  ChangeTenantPlanRequest,
  DefineRoleRequest,
  RoleDefinitionResult,
  RoleList,
  RoleRef,
  AcceptInvitationRequest,
  InvitationPage,
  InvitationRef,
  IssuedInvitation,
  ListInvitationsRequest,
  NewInvitation,
} from './messages.ts';

export const parseLoginRequest = requestParser(LoginRequest);
export const parseVerifyMfaRequest = requestParser(VerifyMfaRequest);
export const parseRefreshRequest = requestParser(RefreshRequest);
export const parseSessionRef = requestParser(SessionRef);
export const parseRevokeSessionRequest = requestParser(RevokeSessionRequest);
export const parseConfirmMfaRequest = requestParser(ConfirmMfaRequest);
export const parseCreateTenantRequest = requestParser(CreateTenantRequest);
export const parseNewUser = requestParser(NewUser);
export const parseCreateApiKeyRequest = requestParser(CreateApiKeyRequest);
export const parseListApiKeysRequest = requestParser(ListApiKeysRequest);
export const parseApiKeyRef = requestParser(ApiKeyRef);
export const parseDisableUserRequest = requestParser(DisableUserRequest);
export const parseUserRef = requestParser(UserRef);
export const parseRoleChangeRequest = requestParser(RoleChangeRequest);
export const parseChangePasswordRequest = requestParser(ChangePasswordRequest);
export const parseSuspendTenantRequest = requestParser(SuspendTenantRequest);
export const parseTenantRef = requestParser(TenantRef);
export const parseChangeTenantQuotasRequest = requestParser(ChangeTenantQuotasRequest);
export const parseMfaReauthRequest = requestParser(MfaReauthRequest);
export const parseDeleteUserRequest = requestParser(DeleteUserRequest);
export const parseChangeTenantPlanRequest = requestParser(ChangeTenantPlanRequest);
export const parseDefineRoleRequest = requestParser(DefineRoleRequest);
export const parseRoleRef = requestParser(RoleRef);
export const parseListUsersRequest = requestParser(ListUsersRequest);
export const parseNewInvitation = requestParser(NewInvitation);
export const parseAcceptInvitationRequest = requestParser(AcceptInvitationRequest);
export const parseListInvitationsRequest = requestParser(ListInvitationsRequest);
export const parseInvitationRef = requestParser(InvitationRef);

export const parseLoginResult = replyParser(LoginResult, 'identity login');
export const parseTokenPair = replyParser(TokenPair, 'token');
export const parseSessionList = replyParser(SessionList, 'sessions');
export const parseMfaEnrollment = replyParser(MfaEnrollment, 'MFA enrollment');
export const parseDone = replyParser(Done, 'command');
export const parseJwks = replyParser(Jwks, 'JWKS');
export const parseTenantCreated = replyParser(TenantCreatedResult, 'tenant');
export const parseUserCreated = replyParser(UserCreatedResult, 'user');
export const parseCreatedApiKey = replyParser(CreatedApiKey, 'identity API key');
export const parseApiKeyList = replyParser(ApiKeyList, 'identity API keys');
export const parseUserRoles = replyParser(UserRoles, 'identity roles');
export const parseTenantView = replyParser(TenantView, 'tenant');
export const parseRecoveryCodes = replyParser(RecoveryCodes, 'recovery codes');
export const parseUserPage = replyParser(UserPage, 'identity users');
export const parseRoleList = replyParser(RoleList, 'identity roles');
export const parseRoleDefinitionResult = replyParser(RoleDefinitionResult, 'identity role');
export const parseIssuedInvitation = replyParser(IssuedInvitation, 'identity invitation');
export const parseInvitationPage = replyParser(InvitationPage, 'identity invitations');

const claimsValidator = Compile(AccessClaims);
/** The claims of a verified access token, or undefined when they are not Vigil's. */
export function accessClaimsOf(payload: unknown): AccessClaims | undefined {
  return claimsValidator.Check(payload) ? payload : undefined;
}
