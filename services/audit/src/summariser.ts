// One durable consumer per summarised stream, each appending the summary of every event to AUDIT.
import { append, startConsumer, type Bus, type RunningConsumer } from '@vigil/bus';
import { summarise, summarisedStreams } from './summary.ts';

export interface SummariserOptions {
  /** Messages handled at once per stream (default 32). Order on AUDIT does not matter: the chain follows AUDIT. */
  readonly concurrency?: number;
}

export async function startSummarisers(bus: Bus, options: SummariserOptions = {}): Promise<RunningConsumer[]> {
  const running: RunningConsumer[] = [];
  for (const stream of summarisedStreams) {
    running.push(
      await startConsumer(bus, { stream, durable: `audit_summary_${stream}`, concurrency: options.concurrency ?? 32 }, async (delivery) => {
        const summary = summarise(stream, delivery.seq, delivery.subject, delivery.event);
        // The summary's id is derived from the source's: a redelivery is deduplicated by the server (Nats-Msg-Id).
        await append(bus, summary.subject, summary.event);
      }),
    );
  }
  return running;
}
