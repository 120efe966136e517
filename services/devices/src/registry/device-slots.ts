import type { Decider, EventDraft } from '@vigil/bus';
import { DeviceQuotaExceededError } from '@vigil/devices-contract';
import { DeviceSlotReleased, DeviceSlotTaken, type EventOf } from '@vigil/schemas';

export const deviceSlotEvents = [DeviceSlotTaken, DeviceSlotReleased] as const;
export type DeviceSlotEvent = EventOf<(typeof deviceSlotEvents)[number]>;

/**
 * A tenant's device quota, one aggregate per tenant. Four tokens, so the `device.*.*` filter of device aggregates
 * (directories, the devices projection) never sees it, and `quota` is not a serial claim's `serial`.
 */
export function deviceSlotsSubject(tenant: string): string {
  return `device.${tenant}.quota.devices`;
}

/** The devices holding a slot of their tenant's quota: registered (or being registered) and not decommissioned. */
export interface DeviceSlotsState {
  readonly holders: ReadonlySet<string>;
}

export type DeviceSlotCommand =
  /** `max` undefined: the tenant has no device quota (one made before device quotas, until one is set). */
  | { readonly kind: 'take'; readonly deviceId: string; readonly max: number | undefined }
  | { readonly kind: 'release'; readonly deviceId: string };

export function evolveDeviceSlots(state: DeviceSlotsState, event: DeviceSlotEvent): DeviceSlotsState {
  const holders = new Set(state.holders);
  if (event.type === 'device.quota.slot_taken') holders.add(event.data.device_id);
  else holders.delete(event.data.device_id);
  return { holders };
}

type Draft = EventDraft<DeviceSlotEvent['type'], 1, DeviceSlotEvent['data']>;

/**
 * A slot per device, taken by an append with the expected sequence of the tenant's quota subject: of any number of
 * concurrent registrations, exactly as many as the quota has room for take one, whatever the number of workers.
 */
export function decideDeviceSlots(command: DeviceSlotCommand, state: DeviceSlotsState): Draft[] {
  if (command.kind === 'release') return state.holders.has(command.deviceId) ? [{ type: 'device.quota.slot_released', v: 1, data: { device_id: command.deviceId } }] : [];
  if (state.holders.has(command.deviceId)) return [];
  if (command.max !== undefined && state.holders.size >= command.max) throw new DeviceQuotaExceededError(String(command.max));
  return [{ type: 'device.quota.slot_taken', v: 1, data: { device_id: command.deviceId } }];
}

export const deviceSlotsDecider: Decider<DeviceSlotCommand, DeviceSlotsState, DeviceSlotEvent> = {
  events: deviceSlotEvents,
  initialState: () => ({ holders: new Set() }),
  evolve: evolveDeviceSlots,
  decide: decideDeviceSlots,
};
