import { BadRequestError } from '@vigil/bus';
import type { Static, TSchema } from 'typebox';
import Compile from 'typebox/compile';
import {
  AccessClaims,
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
} from './messages.ts';

function problemsOf(errors: readonly { instancePath: string; message: string }[]): string {
  return errors
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message}`)
    .join('; ');
}

/** A request check for the worker side: a bad shape is the caller's mistake (400). */
function requestParser<S extends TSchema>(schema: S): (data: unknown) => Static<S> {
  const validator = Compile(schema);
  return (data) => {
    if (validator.Check(data)) return data;
    throw new BadRequestError(problemsOf(validator.Errors(data)));
  };
}

/** A reply check for the edge side: a worker answering outside the contract is a server fault. */
function replyParser<S extends TSchema>(schema: S, what: string): (result: unknown) => Static<S> {
  const validator = Compile(schema);
  return (result) => {
    if (validator.Check(result)) return result;
    throw new Error(`identity ${what} reply does not match its schema: ${problemsOf(validator.Errors(result))}`);
  };
}

export const parseLoginRequest = requestParser(LoginRequest);
export const parseVerifyMfaRequest = requestParser(VerifyMfaRequest);
export const parseRefreshRequest = requestParser(RefreshRequest);
export const parseSessionRef = requestParser(SessionRef);
export const parseRevokeSessionRequest = requestParser(RevokeSessionRequest);
export const parseConfirmMfaRequest = requestParser(ConfirmMfaRequest);
export const parseCreateTenantRequest = requestParser(CreateTenantRequest);
export const parseNewUser = requestParser(NewUser);

export const parseLoginResult = replyParser(LoginResult, 'login');
export const parseTokenPair = replyParser(TokenPair, 'token');
export const parseSessionList = replyParser(SessionList, 'sessions');
export const parseMfaEnrollment = replyParser(MfaEnrollment, 'MFA enrollment');
export const parseDone = replyParser(Done, 'command');
export const parseJwks = replyParser(Jwks, 'JWKS');
export const parseTenantCreated = replyParser(TenantCreatedResult, 'tenant');
export const parseUserCreated = replyParser(UserCreatedResult, 'user');

const claimsValidator = Compile(AccessClaims);
/** The claims of a verified access token, or undefined when they are not Vigil's. */
export function accessClaimsOf(payload: unknown): AccessClaims | undefined {
  return claimsValidator.Check(payload) ? payload : undefined;
}
