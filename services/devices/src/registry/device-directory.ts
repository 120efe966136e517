import { followEvents, type Bus, type Following } from '@vigil/bus';
import { digestsEqual, sha256Hex } from '@vigil/crypto';
import { deviceAggregatesFilter } from '@vigil/devices-contract';
import type { AnyEnvelope } from '@vigil/schemas';
import { deviceDecider, evolveDevice, isDeviceEvent, type ActiveDevice, type DeviceState } from './device.ts';

/** A registered, active device as the broker and the uplink need it. */
export interface KnownDevice {
  readonly tenant: string;
  readonly deviceId: string;
  readonly serial: string;
  readonly state: ActiveDevice;
}

export type DeviceAuthentication =
  | { readonly ok: true; readonly device: KnownDevice; readonly credentialId: string }
  | { readonly ok: false; readonly reason: 'unknown_device' | 'wrong_secret' | 'no_credentials' | 'decommissioned' | 'certificate_mismatch' };

/** Told when a device loses a credential or is decommissioned, so that connections using it are closed at once. */
export type AccessWithdrawn = (change: { readonly deviceId: string; readonly remainingCredentials: readonly string[]; readonly decommissioned: boolean }) => void;

/**
 * Every device of every tenant, in memory, kept current by following the registry's aggregates on the bus: what the
 * broker authenticates against without a database, and what the uplink maps serial numbers with. The state of each
 * device is folded by the registry's own `evolve`, so the directory and the deciders cannot disagree.
 */
export class DeviceDirectory {
  readonly #bus: Bus;
  readonly #devices = new Map<string, { tenant: string; state: DeviceState }>();
  readonly #bySerial = new Map<string, string>();
  /** Active devices by tenant and TALQ address: a set, because the registry does not make TALQ addresses unique. */
  readonly #byTalqAddress = new Map<string, Set<string>>();
  readonly #listeners = new Set<AccessWithdrawn>();
  #following: Following | undefined;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async start(): Promise<void> {
    this.#following = await followEvents(this.#bus, deviceAggregatesFilter, ({ event, subject }) => this.#apply(subject, event));
    await this.#following.caughtUp;
  }

  async stop(): Promise<void> {
    await this.#following?.stop();
  }

  /** Resolves once the directory has seen the registry up to `seq` (after a registration, say). */
  async reach(seq: number, timeoutMs?: number): Promise<void> {
    await this.#following?.reach(seq, timeoutMs);
  }

  onAccessWithdrawn(listener: AccessWithdrawn): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(deviceId: string): KnownDevice | undefined {
    const entry = this.#devices.get(deviceId);
    if (!entry || entry.state.status !== 'active') return undefined;
    return { tenant: entry.tenant, deviceId, serial: entry.state.profile.serial, state: { ...entry.state, status: 'active' } };
  }

  bySerial(tenant: string, serial: string): KnownDevice | undefined {
    const deviceId = this.#bySerial.get(`${tenant}\u0000${serial}`);
    return deviceId === undefined ? undefined : this.get(deviceId);
  }

  /** The active devices of a tenant bound to this TALQ address: one, or several that share it (the TALQ gateway refuses those). */
  byTalqAddress(tenant: string, address: string): KnownDevice[] {
    return [...(this.#byTalqAddress.get(`${tenant}\u0000${address}`) ?? [])].flatMap((id) => this.get(id) ?? []);
  }

  /** Every active device of a tenant with a TALQ binding. */
  talqDevices(tenant: string): KnownDevice[] {
    const prefix = `${tenant}\u0000`;
    return [...this.#byTalqAddress].flatMap(([key, ids]) => (key.startsWith(prefix) ? [...ids].flatMap((id) => this.get(id) ?? []) : []));
  }

  /** Checks a device secret (the MQTT password) against the SHA-256 of every live credential, in constant time. */
  authenticateSecret(deviceId: string, secret: string, now: Date = new Date()): DeviceAuthentication {
    return this.#authenticate(deviceId, 'secret', sha256Hex(secret), now);
  }

  /** Checks a client certificate's SHA-256 fingerprint (hex of the DER) against the device's certificate credentials. */
  authenticateCertificate(deviceId: string, fingerprint: string, now: Date = new Date()): DeviceAuthentication {
    return this.#authenticate(deviceId, 'certificate', fingerprint.toLowerCase(), now);
  }

  #authenticate(deviceId: string, kind: 'secret' | 'certificate', digest: string, now: Date): DeviceAuthentication {
    const entry = this.#devices.get(deviceId);
    if (!entry || entry.state.status === 'unregistered') return { ok: false, reason: 'unknown_device' };
    if (entry.state.status === 'decommissioned') return { ok: false, reason: 'decommissioned' };
    const live = entry.state.credentials.filter((c) => c.kind === kind && (c.expiresAt === undefined || c.expiresAt > now));
    if (live.length === 0) return { ok: false, reason: 'no_credentials' };
    // Compare with every live credential, not stopping at a match, so timing says nothing about which one matched.
    let matched: string | undefined;
    for (const c of live) if (digestsEqual(c.sha256, digest)) matched ??= c.credentialId;
    if (matched === undefined) return { ok: false, reason: kind === 'secret' ? 'wrong_secret' : 'certificate_mismatch' };
    const device = this.get(deviceId);
    return device ? { ok: true, device, credentialId: matched } : { ok: false, reason: 'unknown_device' };
  }

  #apply(subject: string, event: AnyEnvelope): void {
    if (!isDeviceEvent(event)) return;
    const [, tenant = '', deviceId = ''] = subject.split('.');
    const before = this.#devices.get(deviceId) ?? { tenant, state: deviceDecider.initialState() };
    const state = evolveDevice(before.state, event);
    this.#devices.set(deviceId, { tenant, state });
    if (state.status === 'unregistered') return;
    const serialKey = `${tenant}\u0000${state.profile.serial}`;
    if (state.status === 'active') this.#bySerial.set(serialKey, deviceId);
    else if (this.#bySerial.get(serialKey) === deviceId) this.#bySerial.delete(serialKey);
    if (state.profile.talq) {
      const talqKey = `${tenant}\u0000${state.profile.talq.address}`;
      const ids = this.#byTalqAddress.get(talqKey) ?? new Set<string>();
      if (state.status === 'active') ids.add(deviceId);
      else ids.delete(deviceId);
      if (ids.size > 0) this.#byTalqAddress.set(talqKey, ids);
      else this.#byTalqAddress.delete(talqKey);
    }
    if (before.state.status === 'unregistered') return;
    const remaining = state.credentials.map((c) => c.credentialId);
    const lost = before.state.credentials.some((c) => !remaining.includes(c.credentialId));
    if (lost || state.status === 'decommissioned') {
      for (const listener of this.#listeners) listener({ deviceId, remainingCredentials: remaining, decommissioned: state.status === 'decommissioned' });
    }
  }
}
