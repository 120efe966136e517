import { secretPattern, tenantPattern, uuidPattern } from './token-shape.ts';

const day = 24 * 60 * 60;

/** How long an invitation stays open when the inviter does not say, and the longest it may. */
export const invitationDefaultLifetimeSeconds = 7 * day;
export const invitationMaxLifetimeSeconds = 30 * day;

/**
 * An invitation token as shown once: `vgi_<tenant>_<invitation id>_<secret>`, the secret 256 random bits in base64url.
 * The tenant and id take the worker straight to the invitation's subject; the secret is what proves it (only its
 * SHA-256 is kept). The prefix, like an API key's `vgl_`, makes a leaked token easy to recognise. Vigil sends no
 * mail: the inviter hands the token to the person invited.
 */
export const invitationTokenPrefix = 'vgi_';
// Unambiguous although a tenant id may hold `_`: the id and the secret have fixed lengths, counted from the end.
const invitationTokenShape = new RegExp(`^${invitationTokenPrefix}(${tenantPattern})_(${uuidPattern})_${secretPattern}$`);

/** The tenant and invitation an invitation token names, or undefined when the text is not shaped like one of ours. */
export function invitationOf(token: string): { tenant: string; invitationId: string } | undefined {
  const m = invitationTokenShape.exec(token);
  const tenant = m?.[1];
  const invitationId = m?.[2];
  return tenant && invitationId ? { tenant, invitationId } : undefined;
}
