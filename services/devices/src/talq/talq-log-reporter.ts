import { startConsumer, type Bus, type Delivery, type RunningConsumer } from '@vigil/bus';
import { derivedId } from '@vigil/crypto';
import type { Logger } from '@vigil/log';
import { StreamName } from '@vigil/schemas';
import { backoffDelay, type Backoff } from '../backoff.ts';
import { ProblemTally } from '../problem-tally.ts';
import type { KnownDevice } from '../registry/device-directory.ts';
import { postToCms, type CmsEndpoint } from './cms-client.ts';
import { logEntriesOf, type LogEntry, type LogReport } from './talq-log-entries.ts';

export interface TalqLogReporterOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly directory: { get(deviceId: string): KnownDevice | undefined };
  readonly tenant: string;
  readonly cms: CmsEndpoint;
  /** The gateway's TALQ address: `clientAddress` of every request. */
  readonly gatewayAddress: string;
  /** The LoggerConfig address the reports name. */
  readonly loggerAddress: string;
  /** How long the first entry waiting waits for others before a report goes (TALQ immediate reporting, delay). */
  readonly intervalMs: number;
  /** A report holds the entries of whole messages up to about this many; a full batch goes at once. */
  readonly maxEntries: number;
  /** Waits between attempts while the CMS does not acknowledge. */
  readonly retry?: Backoff;
  /** The durable consumer's name; replicas share it. */
  readonly durable?: string;
}

export interface TalqLogReporterStatus {
  readonly cms: string;
  readonly reports_delivered: number;
  readonly entries_delivered: number;
  /** Refused by the CMS as malformed (400, 413, 422): acknowledged on the bus so they do not block the rest. */
  readonly reports_rejected: number;
  readonly failed_attempts: number;
  readonly entries_waiting: number;
  readonly unmapped_readings: number;
  readonly last_delivered_at?: string;
  readonly last_error?: string;
}

interface Waiting {
  readonly entries: readonly LogEntry[];
  readonly waiters: { resolve: () => void; reject: (err: Error) => void }[];
}

type Delivered = 'delivered' | 'rejected' | 'stopped';

/** What no resend can fix: the CMS says the report itself is wrong. 401/403/404 are configuration, retried. */
const refusedForGood = new Set([400, 413, 422]);

/**
 * Pushes TALQ log reports to the CMS, built from DEVICE_TELEMETRY of the gateway's tenant.
 *
 * A durable consumer is the cursor: a message is acknowledged only once the report holding its entries has been
 * acknowledged by the CMS (2xx), so a restart, a crash or a CMS outage loses nothing; what was not acknowledged is
 * delivered again by the stream, and reported then. Messages without entries (heartbeats, devices without a TALQ
 * binding) are acknowledged at once. Entries wait up to `intervalMs` to be sent together, in stream order, one report
 * at a time; a report that fails is sent again, unchanged and with the same `talqRequestId` (derived from the stream
 * sequences it holds, so a CMS can tell a resend), with exponential backoff and jitter until the CMS acknowledges it.
 * A report is sent twice only when the CMS acknowledged it and this process ended before acknowledging on the bus.
 */
export class TalqLogReporter {
  readonly #options: TalqLogReporterOptions;
  readonly #logger: Logger;
  readonly #retry: Backoff;
  readonly #trouble: ProblemTally<'cms_unavailable'>;
  readonly #pending = new Map<number, Waiting>();
  readonly #sending = new Map<number, Waiting>();
  #consumer: RunningConsumer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delivering: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #stopping = false;
  #counts = { reports_delivered: 0, entries_delivered: 0, reports_rejected: 0, failed_attempts: 0, unmapped_readings: 0 };
  #lastDeliveredAt: Date | undefined;
  #lastError: string | undefined;

  constructor(options: TalqLogReporterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'talq-log-reports' });
    this.#retry = options.retry ?? { minMs: 1000, maxMs: 60_000 };
    this.#trouble = new ProblemTally(this.#logger, 'the CMS did not acknowledge a log report; retrying', ['cms_unavailable']);
  }

  async start(): Promise<void> {
    const { tenant, maxEntries } = this.#options;
    this.#consumer = await startConsumer(
      this.#options.bus,
      {
        stream: StreamName.DeviceTelemetry,
        durable: this.#options.durable ?? `talq-log-reports-${tenant}`,
        filterSubject: `telemetry.${tenant}.>`,
        // A handler waits until the CMS has the report: redeliveries after ack_wait are expected during a CMS
        // outage and joined to the waiting entry, so the delivery limit must outlast any outage (two weeks here).
        ackWaitMs: 120_000,
        maxDeliver: 10_000,
        backoffMs: [1000, 5000, 15_000],
        // Handlers held at once: enough for a full report while the previous one is still being delivered.
        concurrency: Math.max(16, 2 * maxEntries),
      },
      (delivery) => this.#handle(delivery),
    );
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    // What waits for a later report is not acknowledged: the stream delivers it again after the restart.
    this.#failWaiting(this.#pending, new Error('the TALQ log reporter stopped'));
    await this.#delivering;
    await this.#consumer?.stop();
    this.#trouble.close();
  }

  status(): TalqLogReporterStatus {
    const waiting = [...this.#pending.values(), ...this.#sending.values()].reduce((n, w) => n + w.entries.length, 0);
    return {
      cms: this.#options.cms.baseUrl,
      ...this.#counts,
      entries_waiting: waiting,
      ...(this.#lastDeliveredAt ? { last_delivered_at: this.#lastDeliveredAt.toISOString() } : {}),
      ...(this.#lastError === undefined ? {} : { last_error: this.#lastError }),
    };
  }

  #handle(delivery: Delivery): Promise<void> {
    const { entries, unmapped } = logEntriesOf(delivery.event, this.#options.directory.get(deviceIdOf(delivery.subject)));
    if (delivery.deliveryCount === 1) this.#counts.unmapped_readings += unmapped;
    if (entries.length === 0) return Promise.resolve();
    if (this.#stopping) return Promise.reject(new Error('the TALQ log reporter is stopping'));
    return new Promise((resolve, reject) => {
      // Delivered again (ack_wait passed while the CMS was away): wait with the entry already there.
      const known = this.#pending.get(delivery.seq) ?? this.#sending.get(delivery.seq);
      if (known) {
        known.waiters.push({ resolve, reject });
        return;
      }
      this.#pending.set(delivery.seq, { entries, waiters: [{ resolve, reject }] });
      this.#schedule();
    });
  }

  #pendingEntries(): number {
    let n = 0;
    for (const w of this.#pending.values()) n += w.entries.length;
    return n;
  }

  #schedule(): void {
    if (this.#delivering || this.#stopping || this.#pending.size === 0) return;
    if (this.#pendingEntries() >= this.#options.maxEntries) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#deliverPending();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#deliverPending();
    }, this.#options.intervalMs);
  }

  #deliverPending(): void {
    this.#delivering = (async () => {
      try {
        do {
          const seqs = this.#takeBatch();
          const outcome = await this.#deliver(seqs);
          const done = new Map([...this.#sending]);
          this.#sending.clear();
          if (outcome === 'stopped') this.#failWaiting(done, new Error('the TALQ log reporter stopped'));
          else for (const w of done.values()) for (const waiter of w.waiters) waiter.resolve();
        } while (!this.#stopping && this.#pendingEntries() >= this.#options.maxEntries);
      } catch (err) {
        this.#logger.error({ err }, 'log report delivery failed unexpectedly');
        this.#failWaiting(this.#sending, err instanceof Error ? err : new Error(String(err)));
      } finally {
        this.#delivering = undefined;
        this.#schedule();
      }
    })();
  }

  /** Moves whole messages, oldest first, from pending to sending: up to maxEntries entries, at least one message. */
  #takeBatch(): number[] {
    const seqs = [...this.#pending.keys()].sort((a, b) => a - b);
    const taken: number[] = [];
    let entries = 0;
    for (const seq of seqs) {
      const w = this.#pending.get(seq);
      if (!w) continue;
      if (taken.length > 0 && entries + w.entries.length > this.#options.maxEntries) break;
      taken.push(seq);
      entries += w.entries.length;
      this.#pending.delete(seq);
      this.#sending.set(seq, w);
    }
    return taken;
  }

  async #deliver(seqs: readonly number[]): Promise<Delivered> {
    const { tenant, cms, gatewayAddress, loggerAddress } = this.#options;
    const entries = seqs.flatMap((seq) => this.#sending.get(seq)?.entries ?? []);
    const report: LogReport = { address: loggerAddress, entries };
    const talqRequestId = derivedId('devices.talq.log_report', `${tenant}:${seqs.join(',')}`);
    for (let attempt = 1; ; attempt++) {
      if (this.#stopping) return 'stopped';
      try {
        const answer = await postToCms(cms, 'log-reports', { clientAddress: gatewayAddress, talqRequestId }, report);
        if (answer.status >= 200 && answer.status < 300) {
          this.#counts.reports_delivered += 1;
          this.#counts.entries_delivered += entries.length;
          this.#lastDeliveredAt = new Date();
          this.#lastError = undefined;
          return 'delivered';
        }
        if (refusedForGood.has(answer.status)) {
          this.#counts.reports_rejected += 1;
          this.#lastError = `the CMS refused a log report (${answer.status})`;
          this.#logger.error({ status: answer.status, answer: answer.body.slice(0, 1000), talq_request_id: talqRequestId, entries: entries.length }, 'the CMS refused a log report; it is dropped');
          return 'rejected';
        }
        this.#lastError = `the CMS answered ${answer.status}`;
      } catch (err) {
        this.#lastError = err instanceof Error ? err.message : String(err);
      }
      this.#counts.failed_attempts += 1;
      this.#trouble.note('cms_unavailable', { error: this.#lastError, talq_request_id: talqRequestId });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffDelay(attempt, this.#retry));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  #failWaiting(waiting: Map<number, Waiting>, err: Error): void {
    for (const w of waiting.values()) for (const waiter of w.waiters) waiter.reject(err);
    waiting.clear();
  }
}

/** `telemetry.<tenant>.<device>.<channel>` → the device id. */
function deviceIdOf(subject: string): string {
  return subject.split('.')[2] ?? '';
}
