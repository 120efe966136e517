// `vigil audit replay`: a stream's messages as they were recorded, for printing or exporting.
import type { Bus } from '@vigil/bus';
import { readStream, type ReadOptions } from './stream-reader.ts';

export interface ReplayedMessage {
  readonly stream: string;
  readonly seq: number;
  readonly subject: string;
  /** When the server stored it. */
  readonly time: string;
  /** The event as recorded; `raw` instead when the message is not JSON. */
  readonly event?: unknown;
  readonly raw?: string;
}

const decoder = new TextDecoder();

export async function* replayStream(bus: Bus, stream: string, options: ReadOptions): AsyncGenerator<ReplayedMessage> {
  for await (const m of readStream(bus, stream, options)) {
    const text = decoder.decode(m.data);
    const base = { stream, seq: m.seq, subject: m.subject, time: m.time.toISOString() };
    try {
      yield { ...base, event: JSON.parse(text) };
    } catch {
      yield { ...base, raw: text };
    }
  }
}
