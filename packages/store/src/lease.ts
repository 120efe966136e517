import { Kvm, type KV } from '@nats-io/kv';
import type { Bus } from '@vigil/bus';

export interface Lease {
  /** Resolves when this process holds the lease. */
  acquire(signal: AbortSignal): Promise<void>;
  /** Aborted when the lease is lost (another holder, NATS unreachable past the TTL). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/**
 * One holder at a time for a named job, in a JetStream KV bucket whose entries expire when not renewed. A projector
 * must have a single active reader (its checkpoint only moves forward), so replicas stand by until it is free.
 */
export async function createLease(bus: Bus, name: string, holder: string, ttlMs = 15_000): Promise<Lease> {
  // The bucket's TTL is set by whoever creates it first; every holder renews at a third of its own TTL.
  const renewMs = Math.max(100, Math.floor(ttlMs / 3));
  const kv: KV = await new Kvm(bus.js).create(bus.names.stream('VIGIL_LEASES'), { ttl: ttlMs, history: 1 });
  const key = name.replace(/[^A-Za-z0-9_=-]/g, '_');
  let revision = 0;
  let timer: NodeJS.Timeout | undefined;
  // The renewal in flight: release waits for it, or it would delete with a revision the renewal just replaced.
  let renewal: Promise<void> = Promise.resolve();
  let lostController = new AbortController();
  const lease = {
    get lost() {
      return lostController.signal;
    },
    async acquire(signal: AbortSignal) {
      lostController = new AbortController();
      while (!signal.aborted) {
        try {
          revision = await kv.create(key, holder);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, renewMs));
        }
      }
      if (signal.aborted) return;
      timer = setInterval(() => {
        renewal = kv.update(key, holder, revision).then(
          (r) => {
            revision = r;
          },
          () => {
            clearInterval(timer);
            lostController.abort(new Error(`lease ${name} lost`));
          },
        );
      }, renewMs);
    },
    async release() {
      clearInterval(timer);
      await renewal;
      if (revision > 0 && !lostController.signal.aborted) await kv.delete(key, { previousSeq: revision }).catch(() => {});
      revision = 0;
    },
  };
  return lease;
}
