import { append, BadRequestError, createEvent, foldEvents, handleCommand, loadAggregate, serve, type Bus, type BusRequest, type Caller, type EventMeta, type Served } from '@vigil/bus';
import { randomToken, sha256Hex, uuidv7 } from '@vigil/crypto';
import {
  DeviceNotFoundError,
  deviceSubject,
  DevicesNotInPlanError,
  DeviceTenantSuspendedError,
  deviceSubjects,
  parseDecommission,
  parseIssueCredential,
  parseRegisterDevice,
  parseRevokeCredential,
  parseSendCommand,
  serialSubject,
  telemetrySubject,
  type CommandAccepted,
  type CommandDone,
  type CredentialIssuedResult,
  type Decommission,
  type DeviceRegisteredResult,
  type IssueCredential,
  type RegisterDevice,
  type RevokeCredential,
  type SendCommand,
} from '@vigil/devices-contract';
import type { Logger } from '@vigil/log';
import { DeviceCommandRequested } from '@vigil/schemas';
import { readDeviceCertificate } from './device-certificate.ts';
import { deviceSlotsDecider, deviceSlotsSubject, type DeviceSlotCommand } from './device-slots.ts';
import { deviceDecider, isDeviceEvent, type DeviceCredential } from './device.ts';
import { serialClaimDecider } from './serial-claim.ts';
import { TenantLimits } from './tenant-limits.ts';

export interface RegistryWorkerOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  /** The device quota of a tenant whose events name none (tenants made before device quotas): VIGIL_TENANT_MAX_DEVICES. */
  readonly defaultMaxDevices?: number;
  /** A started view of the tenants, shared with the broker; without one the worker starts its own on first use (and stops it). */
  readonly tenantLimits?: TenantLimits;
}

type TenantCaller = Caller & { readonly tenant: string };

/** Device secrets carry a prefix so that a leaked one is recognisable (secret scanners, logs). */
const secretPrefix = 'vds_';
/** A tenant's quota is one subject: concurrent registrations queue up on it, each must be decided, not refused. */
const slotAttempts = 64;

/**
 * The device registry's command side: registration (serial claimed first, once per tenant), credentials issued,
 * rotated and revoked, decommissioning, and commands for devices. Each decision is the registry's decider run by
 * `handleCommand` on the device's own subject, so concurrent changes settle on the bus. The tenant and actor are the
 * caller's (the edge has checked `devices:write`); nothing here trusts a tenant from a request body.
 */
export class RegistryWorker {
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #defaultMaxDevices: number | undefined;
  readonly #served: Served[] = [];
  /** Tenants' device quotas and suspensions, followed from the first registration on (so `start` stays as it is). */
  #limits: Promise<TenantLimits> | undefined;
  /** Whether `#limits` is this worker's own, to stop with it. */
  readonly #ownsLimits: boolean;

  constructor(options: RegistryWorkerOptions) {
    this.#bus = options.bus;
    this.#logger = options.logger.child({ component: 'device-registry' });
    this.#defaultMaxDevices = options.defaultMaxDevices;
    if (options.tenantLimits) this.#limits = Promise.resolve(options.tenantLimits);
    this.#ownsLimits = options.tenantLimits === undefined;
  }

  start(): void {
    const s = deviceSubjects;
    const callerOf = (r: BusRequest<unknown>): TenantCaller => {
      const c = r.caller;
      if (!c?.tenant) throw new BadRequestError('a device command needs an authenticated caller of a tenant');
      return { ...c, tenant: c.tenant };
    };
    this.#served.push(
      serve(this.#bus, { subject: s.register, parse: parseRegisterDevice, handle: (r) => this.register(callerOf(r), r.data) }),
      serve(this.#bus, { subject: s.issueCredential, parse: parseIssueCredential, handle: (r) => this.issueCredential(callerOf(r), r.data) }),
      serve(this.#bus, { subject: s.revokeCredential, parse: parseRevokeCredential, handle: (r) => this.revokeCredential(callerOf(r), r.data) }),
      serve(this.#bus, { subject: s.decommission, parse: parseDecommission, handle: (r) => this.decommission(callerOf(r), r.data) }),
      serve(this.#bus, { subject: s.sendCommand, parse: parseSendCommand, handle: (r) => this.sendCommand(callerOf(r), r.data, 'api') }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.#served.splice(0).map((s) => s.stop()));
    if (!this.#ownsLimits) return;
    const limits = await this.#limits?.catch(() => undefined);
    await limits?.stop();
  }

  #tenantLimits(): Promise<TenantLimits> {
    this.#limits ??= (async () => {
      const limits = new TenantLimits(this.#bus);
      await limits.start();
      return limits;
    })().catch((err: unknown) => {
      this.#limits = undefined;
      throw err;
    });
    return this.#limits;
  }

  /**
   * Registers a device of an active tenant within its device quota: the serial is claimed, then a slot of the quota
   * taken, then the device registered, each an append with the expected sequence of its own subject (DESIGN rule 1);
   * a step that fails gives back what the earlier ones took, so a refused registration holds nothing.
   */
  async register(caller: TenantCaller, data: RegisterDevice): Promise<DeviceRegisteredResult> {
    const deviceId = uuidv7();
    const meta = metaOf(caller);
    const tenant = await (await this.#tenantLimits()).of(caller.tenant);
    if (tenant.suspended) throw new DeviceTenantSuspendedError(caller.tenant);
    if (!tenant.entitled) throw new DevicesNotInPlanError(caller.tenant);
    const taken: { what: string; undo: () => Promise<unknown> }[] = [];
    try {
      // The serial is claimed first: a registration that loses the race appends nothing to any device, nor a slot.
      const serial = serialSubject(caller.tenant, data.serial);
      await handleCommand(this.#bus, { subject: serial, decider: serialClaimDecider, command: { kind: 'claim', deviceId, serial: data.serial }, meta });
      taken.push({ what: 'serial claim', undo: () => handleCommand(this.#bus, { subject: serial, decider: serialClaimDecider, command: { kind: 'release', deviceId }, meta }) });
      await this.#slot(caller.tenant, { kind: 'take', deviceId, max: tenant.maxDevices ?? (tenant.known ? this.#defaultMaxDevices : undefined) }, meta);
      taken.push({ what: 'device quota slot', undo: () => this.#slot(caller.tenant, { kind: 'release', deviceId }, meta) });
      const profile = { device_id: deviceId, name: data.name, device_type: data.device_type, serial: data.serial, metadata: data.metadata ?? {}, ...(data.talq ? { talq: data.talq } : {}) };
      const { seq } = await handleCommand(this.#bus, { subject: deviceSubject(caller.tenant, deviceId), decider: deviceDecider, command: { kind: 'register', profile }, meta });
      this.#logger.info({ tenant: caller.tenant, device_id: deviceId, category: 'administration' }, 'device registered');
      return { device_id: deviceId, seq };
    } catch (err) {
      // Give back what was taken, or it would stay held by a device that does not exist.
      for (const { what, undo } of taken.reverse()) {
        await undo().catch((releaseError: unknown) => this.#logger.error({ err: releaseError, device_id: deviceId }, `could not release a ${what} after a failed registration`));
      }
      throw err;
    }
  }

  async #slot(tenant: string, command: DeviceSlotCommand, meta: EventMeta): Promise<void> {
    await handleCommand(this.#bus, { subject: deviceSlotsSubject(tenant), decider: deviceSlotsDecider, command, meta, maxAttempts: slotAttempts });
  }

  async issueCredential(caller: TenantCaller, data: IssueCredential): Promise<CredentialIssuedResult> {
    const credentialId = uuidv7();
    let secret: string | undefined;
    let credential: DeviceCredential;
    const spec = data.credential;
    if (spec.kind === 'secret') {
      secret = `${secretPrefix}${randomToken()}`;
      credential = { credentialId, kind: 'secret', sha256: sha256Hex(secret), ...(spec.expires_at ? { expiresAt: new Date(spec.expires_at) } : {}) };
    } else {
      const certificate = readDeviceCertificate(spec.certificate_pem);
      credential = { credentialId, kind: 'certificate', sha256: certificate.sha256, expiresAt: certificate.notAfter };
    }
    const { seq } = await handleCommand(this.#bus, {
      subject: deviceSubject(caller.tenant, data.device_id),
      decider: deviceDecider,
      command: { kind: 'issue_credential', deviceId: data.device_id, credential, replaceExisting: spec.replace_existing ?? false },
      meta: metaOf(caller),
    });
    this.#logger.info({ tenant: caller.tenant, device_id: data.device_id, credential_id: credentialId, kind: spec.kind, category: 'administration' }, 'device credential issued');
    return {
      device_id: data.device_id,
      credential_id: credentialId,
      kind: spec.kind,
      ...(secret === undefined ? {} : { secret }),
      ...(credential.expiresAt ? { expires_at: credential.expiresAt.toISOString() } : {}),
      replaced_others: spec.replace_existing ?? false,
      seq,
    };
  }

  async revokeCredential(caller: TenantCaller, data: RevokeCredential): Promise<CommandDone> {
    const { seq } = await handleCommand(this.#bus, {
      subject: deviceSubject(caller.tenant, data.device_id),
      decider: deviceDecider,
      command: { kind: 'revoke_credential', deviceId: data.device_id, credentialId: data.credential_id, reason: data.reason ?? '' },
      meta: metaOf(caller),
    });
    return { seq };
  }

  async decommission(caller: TenantCaller, data: Decommission): Promise<CommandDone> {
    const meta = metaOf(caller);
    const { state, seq } = await handleCommand(this.#bus, {
      subject: deviceSubject(caller.tenant, data.device_id),
      decider: deviceDecider,
      command: { kind: 'decommission', deviceId: data.device_id, reason: data.reason ?? '' },
      meta,
    });
    if (state.status !== 'unregistered') {
      await handleCommand(this.#bus, { subject: serialSubject(caller.tenant, state.profile.serial), decider: serialClaimDecider, command: { kind: 'release', deviceId: data.device_id }, meta });
      // Its slot of the tenant's device quota is free again (a no-op for a device registered before quotas).
      await this.#slot(caller.tenant, { kind: 'release', deviceId: data.device_id }, meta);
    }
    return { seq };
  }

  /** Records a command for an active device of the caller's tenant; the broker holding its connection delivers it. */
  async sendCommand(caller: TenantCaller, data: SendCommand, origin: 'api' | 'talq'): Promise<CommandAccepted> {
    const loaded = await loadAggregate(this.#bus, deviceSubject(caller.tenant, data.device_id));
    const state = foldEvents(deviceDecider, isDeviceEvent, deviceDecider.initialState(), loaded.events);
    if (state.status !== 'active') throw new DeviceNotFoundError(data.device_id);
    const commandId = uuidv7();
    const event = createEvent(
      DeviceCommandRequested,
      { device_id: data.device_id, command_id: commandId, name: data.name, parameters: data.parameters ?? {}, origin },
      metaOf(caller),
    );
    const { seq } = await append(this.#bus, telemetrySubject(caller.tenant, data.device_id, 'command'), event);
    return { command_id: commandId, seq };
  }
}

function metaOf(caller: Caller & { readonly tenant: string }): EventMeta {
  return { actor: caller.actor, tenant: caller.tenant };
}
