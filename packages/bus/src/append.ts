import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { AnyEnvelope } from '@vigil/schemas';
import type { Bus } from './connection.ts';
import { ConcurrencyError, InvalidEventError } from './errors.ts';

export interface AppendOptions {
  /**
   * Optimistic concurrency: the append succeeds only if the subject's last message has this stream sequence
   * (0: the subject has no message yet). A mismatch throws ConcurrencyError and leaves the stream unchanged.
   */
  readonly expectedLastSubjectSequence?: number;
}

export interface Appended {
  readonly stream: string;
  readonly seq: number;
  /** The server had this event id already (a retried publish): nothing new was stored. */
  readonly duplicate: boolean;
}

const encoder = new TextEncoder();

/**
 * Appends one event to a plain subject. The event id is the `Nats-Msg-Id`, so a retried publish within the
 * stream's duplicate window is stored once; the event is validated first, so nothing malformed reaches a stream.
 */
export async function append(bus: Bus, subject: string, event: AnyEnvelope, options: AppendOptions = {}): Promise<Appended> {
  const validation = bus.registry.validate(event);
  if (!validation.ok) throw new InvalidEventError(event.type, validation.problems.join('; '));
  const expect = options.expectedLastSubjectSequence === undefined ? {} : { lastSubjectSequence: options.expectedLastSubjectSequence };
  try {
    const ack = await bus.js.publish(bus.names.subject(subject), encoder.encode(JSON.stringify(event)), {
      msgID: event.id,
      expect,
    });
    return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
      throw new ConcurrencyError(subject, String(options.expectedLastSubjectSequence), { cause: err });
    }
    throw err;
  }
}
