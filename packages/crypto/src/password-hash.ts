import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with the OWASP Password Storage Cheat Sheet's first configuration, set explicitly rather than left to
 * the library's defaults: 19 MiB of memory, 2 passes, 1 lane. The hash runs on the binding's own threads, off the
 * event loop. Parameters travel inside the PHC string, so raising them later still verifies old hashes.
 */
export const argon2idParameters = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 } as const;

/** A PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, argon2idParameters);
}

/** Compares in constant time; a malformed hash is "no match", never an exception that reveals more. */
export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Spends the time of one verification against a hash nobody's password matches: a login for an unknown user
 * then takes as long as one for a known user with a wrong password.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummy ??= hashPassword(`dummy-${Math.random()}`);
  await verifyPassword(await dummy, password);
  return false;
}
