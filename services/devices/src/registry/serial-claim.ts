import type { Decider, EventDraft } from '@vigil/bus';
import { SerialTakenError } from '@vigil/devices-contract';
import { SerialClaimed, SerialReleased, type EventOf } from '@vigil/schemas';

export const serialClaimEvents = [SerialClaimed, SerialReleased] as const;
export type SerialClaimEvent = EventOf<(typeof serialClaimEvents)[number]>;

/** Which device holds a serial number in a tenant; the first append to the claim's subject wins. */
export interface SerialClaimState {
  readonly holder?: string;
}

export type SerialClaimCommand =
  | { readonly kind: 'claim'; readonly deviceId: string; readonly serial: string }
  | { readonly kind: 'release'; readonly deviceId: string };

export function evolveSerialClaim(state: SerialClaimState, event: SerialClaimEvent): SerialClaimState {
  switch (event.type) {
    case 'device.serial.claimed':
      return { holder: event.data.device_id };
    case 'device.serial.released':
      return state.holder === event.data.device_id ? {} : state;
  }
}

type Draft = EventDraft<SerialClaimEvent['type'], 1, SerialClaimEvent['data']>;

export function decideSerialClaim(command: SerialClaimCommand, state: SerialClaimState): Draft[] {
  if (command.kind === 'release') {
    return state.holder === command.deviceId ? [{ type: 'device.serial.released', v: 1, data: { device_id: command.deviceId } }] : [];
  }
  if (state.holder === command.deviceId) return [];
  if (state.holder !== undefined) throw new SerialTakenError(command.serial);
  return [{ type: 'device.serial.claimed', v: 1, data: { device_id: command.deviceId } }];
}

export const serialClaimDecider: Decider<SerialClaimCommand, SerialClaimState, SerialClaimEvent> = {
  events: serialClaimEvents,
  initialState: () => ({}),
  evolve: evolveSerialClaim,
  decide: decideSerialClaim,
};
