// The parts of the opaque tokens Vigil shows once (refresh tokens, API keys, invitations): ids that let the receiver go
// straight to what the token names (no search), and a secret that proves it. Unanchored, to compose each token's shape.

/** A tenant id, as schemas' TenantId allows it. */
export const tenantPattern = '[a-z0-9][a-z0-9_-]{0,62}';
/** A UUID as Vigil writes ids (lowercase hex). */
export const uuidPattern = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** 256 random bits in base64url (43 characters), as `randomToken` of @vigil/crypto makes them. */
export const secretPattern = '[A-Za-z0-9_-]{43}';
