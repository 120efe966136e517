/** When a certificate is valid. Tests ask for certificates already expired or not yet valid. */
export interface Validity {
  /** Default: five minutes ago, so a peer whose clock is a little behind accepts a certificate made just now. */
  readonly notBefore?: Date;
  /** Default: `days` after notBefore. */
  readonly notAfter?: Date;
  /** Used when notAfter is not given. */
  readonly days?: number;
}

const clockSkewMs = 5 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;

export function validityPeriod(validity: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = validity.notBefore ?? new Date(Date.now() - clockSkewMs);
  const notAfter = validity.notAfter ?? new Date(notBefore.getTime() + (validity.days ?? defaultDays) * dayMs);
  if (notAfter <= notBefore) throw new Error('a certificate must end after it begins');
  return { notBefore, notAfter };
}
