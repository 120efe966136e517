import type { AnyEnvelope } from '@vigil/schemas';

/** A QoS 1 message from a device, held from its arrival until the device has been sent its PUBACK. */
export interface HeldMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly subject: string;
  /** The event that records it: its id is the `Nats-Msg-Id`, so every append of this message is the same append. */
  readonly event: AnyEnvelope;
  readonly receivedAt: number;
  /** The append in flight or done; undefined before the first and after a failed one, so the next try appends again. */
  storing: Promise<void> | undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Messages devices sent that the broker has not acknowledged, by device and MQTT packet id: what makes a resend
 * the same event as the message it repeats.
 *
 * Why this and not an id derived from (device, packet id, payload): packet ids are reused as soon as a PUBACK frees
 * them (some clients use 1 for every message), so a constant reading sent twice with the same id would be two
 * messages with one derived id, and the second would be acknowledged and dropped as a duplicate. A packet id is
 * only repeated for the same message while that message is unacknowledged (MQTT 4.4: the client resends it, with
 * the same id, on its next connection; mqtt.js, like most clients, does not set the DUP flag, so the flag cannot
 * tell). So a packet that matches a held message on device, id, topic and payload is that message again: it gets
 * the held event (already stored: acknowledged without a second append; stored or not: appended again under the
 * same id, which the stream's duplicate window stores once). Anything else is a new message with a new id.
 *
 * A message leaves when its PUBACK is handed to a live connection, or after `ttlMs` (a device that never comes
 * back). What is not covered: a PUBACK lost with a connection that broke after it was sent, and a resend to
 * another broker process (this memory is per process). Those are stored twice: at least once, never lost.
 */
export class UnacknowledgedMessages {
  readonly #byDevice = new Map<string, Map<number, HeldMessage>>();
  readonly #ttlMs: number;
  #count = 0;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#count;
  }

  /** The held message this packet repeats, if any; a held message it does not repeat is forgotten (its id was reused). */
  repeated(deviceId: string, packetId: number, topic: string, payload: Uint8Array): HeldMessage | undefined {
    const held = this.#byDevice.get(deviceId)?.get(packetId);
    if (!held) return undefined;
    if (held.topic === topic && sameBytes(held.payload, payload)) return held;
    this.release(deviceId, packetId, held);
    return undefined;
  }

  hold(deviceId: string, packetId: number, message: HeldMessage): void {
    let messages = this.#byDevice.get(deviceId);
    if (!messages) {
      messages = new Map();
      this.#byDevice.set(deviceId, messages);
    }
    if (!messages.has(packetId)) this.#count += 1;
    messages.set(packetId, message);
  }

  /** The device was sent its PUBACK (or the message is superseded): forget it, unless another took its place. */
  release(deviceId: string, packetId: number, message: HeldMessage): void {
    const messages = this.#byDevice.get(deviceId);
    if (messages?.get(packetId) !== message) return;
    messages.delete(packetId);
    this.#count -= 1;
    if (messages.size === 0) this.#byDevice.delete(deviceId);
  }

  /** Forgets messages held longer than the time to live; returns how many. */
  sweep(now: number): number {
    let dropped = 0;
    for (const [deviceId, messages] of this.#byDevice) {
      for (const [packetId, message] of messages) {
        if (now - message.receivedAt <= this.#ttlMs) continue;
        messages.delete(packetId);
        dropped += 1;
      }
      if (messages.size === 0) this.#byDevice.delete(deviceId);
    }
    this.#count -= dropped;
    return dropped;
  }
}
