import Type, { type Static } from 'typebox';
import type { KnownDevice } from '../registry/device-directory.ts';
import { talqDeviceClass, type TalqFunctionModel } from './talq-device-classes.ts';

/** TALQ TALQErrorMessage: what the gateway answers a refused request with (in an array). */
export interface TalqErrorMessage {
  readonly key: string;
  readonly description?: string;
  readonly references?: readonly { readonly address: { readonly resource: string; readonly address: string } }[];
}

const ResourceReference = Type.Object({ resource: Type.String({ maxLength: 64 }), address: Type.String({ minLength: 1, maxLength: 512 }) });
const Instant = Type.String({ format: 'date-time' });

/**
 * TALQ OverrideCommand as this gateway reads it (oas/talq-data-model: OverrideCommand, Command, State). Unknown
 * fields are allowed, as TALQ adds optional ones between minor versions; sizes are bounded.
 */
export const OverrideCommand = Type.Object({
  addresses: Type.Array(ResourceReference, { minItems: 1, maxItems: 100 }),
  targetCommand: Type.Optional(
    Type.Object({
      state: Type.Object({ name: Type.String({ maxLength: 64 }), value: Type.Optional(Type.Unknown()) }),
      rampToLevelTime: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400 })),
      rampFromLevelTime: Type.Optional(Type.Number({ minimum: 0, maximum: 86_400 })),
      reason: Type.Optional(Type.String({ maxLength: 64 })),
      cmsRefId: Type.Optional(Type.String({ maxLength: 1024 })),
      refAddress: Type.Optional(Type.String({ maxLength: 512 })),
      start: Type.Optional(Instant),
      expiration: Type.Optional(Instant),
    }),
  ),
});
export type OverrideCommand = Static<typeof OverrideCommand>;

/** One device command an override turns into, for `RegistryWorker.sendCommand(..., 'talq')`. */
export interface DeviceOverride {
  readonly deviceId: string;
  readonly name: 'talq.override' | 'talq.override.release';
  readonly parameters: Record<string, string | number | boolean>;
}

export type OverrideDecision = { readonly ok: true; readonly commands: readonly DeviceOverride[] } | { readonly ok: false; readonly errors: readonly TalqErrorMessage[] };

/**
 * What an override command from the CMS asks of which devices, pure. Each address is `/devices/<address>`, optionally
 * narrowed to a function (`<address>/<functionId>`) or to its `targetLightCommand`; a device address alone means every
 * actuator function of the device. With a target command, each function gets `talq.override` with the level
 * (LevelState 0..100) and the command's timing; without one, `talq.override.release` (back to normal operation).
 * All or nothing: one address or command the gateway cannot apply refuses the whole request, so the CMS never has
 * to find out which half was applied.
 */
export function decideOverride(command: OverrideCommand, resolve: (address: string) => KnownDevice[], talqRequestId: string, now: Date): OverrideDecision {
  const errors: TalqErrorMessage[] = [];
  const target = command.targetCommand;
  let settings: Record<string, string | number | boolean> = {};
  if (target) {
    const read = readTarget(target, now);
    if ('problem' in read) errors.push({ key: 'overrideCommandNotValid', description: read.problem });
    else settings = read.settings;
  }
  const commands = new Map<string, DeviceOverride>();
  for (const ref of command.addresses) {
    const refused = (key: string, description: string) => errors.push({ key, description, references: [{ address: { resource: ref.resource, address: ref.address } }] });
    if (ref.resource !== 'devices') {
      refused('overrideAddressNotValid', `only devices can be overridden here, not ${ref.resource}`);
      continue;
    }
    const [deviceAddress = '', functionId, attributeName, ...more] = ref.address.split('/');
    if (more.length > 0) {
      refused('parameterValueNotValid', 'a device address is {deviceAddress}[/{functionId}[/{attributeName}]]');
      continue;
    }
    const found = resolve(deviceAddress);
    const device = found[0];
    if (!device || found.length > 1) {
      refused(device ? 'resourceConflict' : 'resourceNotFound', device ? `${deviceAddress} is bound to more than one device` : `no device ${deviceAddress}`);
      continue;
    }
    const model = talqDeviceClass(device.state.profile.talq?.device_class ?? '');
    const actuators: TalqFunctionModel[] = (model?.functions ?? []).filter((f) => f.actuator && (functionId === undefined || f.id === functionId));
    if (actuators.length === 0 || (attributeName !== undefined && attributeName !== 'targetLightCommand')) {
      refused('overrideAddressNotValid', `${ref.address} has no function that takes override commands`);
      continue;
    }
    for (const fn of actuators) {
      const parameters = { function: fn.id, talq_request_id: talqRequestId, ...settings };
      commands.set(`${device.deviceId}/${fn.id}`, { deviceId: device.deviceId, name: target ? 'talq.override' : 'talq.override.release', parameters });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, commands: [...commands.values()] };
}

function readTarget(target: NonNullable<OverrideCommand['targetCommand']>, now: Date): { settings: Record<string, string | number | boolean> } | { problem: string } {
  if (target.state.name !== 'LevelState') return { problem: `the lamp actuators here take LevelState, not ${target.state.name}` };
  const level = target.state.value;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > 100) return { problem: 'a LevelState value is a whole percentage, 0 to 100' };
  const start = target.start === undefined ? undefined : new Date(target.start);
  const expiration = target.expiration === undefined ? undefined : new Date(target.expiration);
  if (expiration && expiration.getTime() <= Math.max(start?.getTime() ?? 0, now.getTime())) return { problem: 'the command expires before it starts' };
  return {
    settings: {
      level,
      reason: 'override',
      ...(target.rampToLevelTime === undefined ? {} : { ramp_to_level_s: target.rampToLevelTime }),
      ...(target.rampFromLevelTime === undefined ? {} : { ramp_from_level_s: target.rampFromLevelTime }),
      ...(start ? { start: start.toISOString() } : {}),
      ...(expiration ? { expiration: expiration.toISOString() } : {}),
      ...(target.cmsRefId === undefined ? {} : { cms_ref_id: target.cmsRefId }),
    },
  };
}
