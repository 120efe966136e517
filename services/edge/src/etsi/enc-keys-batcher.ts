import { NoWorkerError, rehydrateError, request, type Bus } from '@vigil/bus';
import { uuidv7 } from '@vigil/crypto';
import {
  kmeSubjects,
  parseEncKeysBatchReply,
  parseSealedKeyContainer,
  type EncKeysBatch,
  type EncKeysBatchReply,
  type EncKeysRequest,
  type SaeCaller,
  type SealedKeyContainer,
} from '@vigil/kme-contract';
import { currentContext, withContext } from '@vigil/log';

/** Requests of at most this many keys are gathered; larger ones (already many keys per round trip) go alone. */
const gatheredKeys = 16;
/** The most requests, and about the most bytes of request bodies, one bus message carries. */
const maxRequests = 64;
const maxBytes = 256 * 1024;

interface Waiting {
  readonly caller: SaeCaller;
  readonly correlationId: string;
  readonly data: EncKeysRequest;
  resolve(container: SealedKeyContainer): void;
  reject(err: unknown): void;
}

/**
 * Sends the KME the small enc_keys requests that arrive together in one bus message (those read from the sockets in
 * one turn of the event loop): a round trip per request would cost more than the request itself. Each is still
 * decided, audited and answered on its own; a failure of the round trip fails the requests it carried, as it would
 * have failed each of them.
 */
export class EncKeysBatcher {
  readonly #bus: Bus;
  readonly #timeoutMs: number;
  #waiting: Waiting[] = [];
  #bytes = 0;
  #scheduled = false;

  constructor(bus: Bus, timeoutMs: number) {
    this.#bus = bus;
    this.#timeoutMs = timeoutMs;
  }

  /** The keys of one enc_keys request; `bodyBytes` is the size of its HTTP body (0 for a GET). */
  keys(caller: SaeCaller, data: EncKeysRequest, bodyBytes: number): Promise<SealedKeyContainer> {
    if ((data.number ?? 1) > gatheredKeys) return this.#request(caller, data);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ caller, correlationId: currentContext()?.correlationId ?? uuidv7(), data, resolve, reject });
      this.#bytes += 256 + bodyBytes;
      if (this.#waiting.length >= maxRequests || this.#bytes >= maxBytes) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        // After the sockets readable in this turn have been read: their requests go together.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#bytes = 0;
    this.#scheduled = false;
    if (waiting.length === 1 && waiting[0]) this.#alone(waiting[0]);
    else if (waiting.length > 0) void this.#send(waiting);
  }

  #request(caller: SaeCaller, data: EncKeysRequest): Promise<SealedKeyContainer> {
    return request(this.#bus, kmeSubjects.encKeys, data, { caller, timeoutMs: this.#timeoutMs, parse: parseSealedKeyContainer });
  }

  /** Sends a gathered request on its own, under its own correlation id. */
  #alone(w: Waiting): void {
    withContext({ correlationId: w.correlationId }, () => this.#request(w.caller, w.data)).then(w.resolve, w.reject);
  }

  async #send(waiting: readonly Waiting[]): Promise<void> {
    const batch: EncKeysBatch = { requests: waiting.map((w) => ({ caller: w.caller, correlation_id: w.correlationId, data: w.data })) };
    let results: EncKeysBatchReply['results'];
    try {
      ({ results } = await request(this.#bus, kmeSubjects.encKeysBatch, batch, { timeoutMs: this.#timeoutMs, parse: parseEncKeysBatchReply }));
    } catch (err) {
      // KME workers that do not take batches yet (a rolling upgrade): each request on its own.
      if (err instanceof NoWorkerError) for (const w of waiting) this.#alone(w);
      else for (const w of waiting) w.reject(err);
      return;
    }
    if (results.length !== waiting.length) {
      const err = new Error(`the KME answered ${results.length} of ${waiting.length} gathered enc_keys requests`);
      for (const w of waiting) w.reject(err);
      return;
    }
    waiting.forEach((w, i) => {
      const outcome = results[i];
      if (!outcome) w.reject(new Error('missing outcome'));
      else if ('keys' in outcome) w.resolve(outcome.keys);
      else if ('error' in outcome) w.reject(rehydrateError(outcome.error.code, outcome.error.message, outcome.error.details));
      else this.#alone(w);
    });
  }
}
