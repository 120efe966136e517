import { randomToken, sha256Hex } from '@vigil/crypto';
import { invitationTokenPrefix } from '@vigil/identity-contract';

/** A new invitation token `vgi_<tenant>_<invitation id>_<256 random bits, base64url>`, and the SHA-256 that is all Vigil keeps of it. */
export function newInvitationToken(tenant: string, invitationId: string): { token: string; sha256: string } {
  const token = `${invitationTokenPrefix}${tenant}_${invitationId}_${randomToken()}`;
  return { token, sha256: sha256Hex(token) };
}
