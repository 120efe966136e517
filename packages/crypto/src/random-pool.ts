import { randomFillSync } from 'node:crypto';

// Random bytes are drawn from the CSPRNG a page at a time: one call per id or token cost about 4–8 µs (a system call
// each), the biggest single cost of making an event on a busy broker and a visible one of a refresh. Node's own
// randomUUID pools the same way.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

/**
 * `length` fresh random bytes (1 to 4096), copied out of the pool and never handed out twice. The pool's copy is
 * zeroed as it is handed out, so a token's bytes do not linger in it.
 */
export function pooledRandomBytes(length: number): Buffer {
  if (!(length >= 1 && length <= pool.length)) throw new RangeError(`between 1 and ${pool.length} bytes, not ${length}`);
  if (poolOffset + length > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + length));
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
  return bytes;
}
