import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** ASVS 5.0 V6.2: a length floor (12 by default), at least 64 allowed, no composition rules, no common passwords. */
export interface PasswordPolicy {
  readonly minLength: number;
  /** Upper bound of the hashing work one request may ask for; ASVS asks that at least 64 be allowed. */
  readonly maxLength: number;
}

export const maxPasswordLength = 128;

const commonPasswords: ReadonlySet<string> = new Set(
  readFileSync(join(import.meta.dirname, '..', 'data', 'common-passwords.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#')),
);

/**
 * Why a password is refused, or undefined when it is acceptable. Length counts characters (code points), as a
 * person does; spaces and any Unicode are allowed and nothing is truncated. The username is refused as well: it is
 * the first word an attacker tries.
 */
export function passwordProblem(password: string, policy: PasswordPolicy, context: { readonly username?: string } = {}): string | undefined {
  const length = [...password.normalize('NFC')].length;
  if (length < policy.minLength) return `it must have at least ${policy.minLength} characters`;
  if (length > policy.maxLength) return `it must have at most ${policy.maxLength} characters`;
  const lower = password.toLowerCase();
  if (commonPasswords.has(lower)) return 'it is one of the most common passwords';
  if (context.username && lower.includes(context.username.toLowerCase())) return 'it must not contain the username';
  return undefined;
}

export function commonPasswordCount(): number {
  return commonPasswords.size;
}
