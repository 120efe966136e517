// audit_log's bulk rebuild (Projection.bulkRebuild, run by rebuildProjection of @vigil/store): the rows of the whole
// stream as COPY text, the work that does not depend on the chain (parsing, validation, canonical JSON, COPY lines)
// on a worker thread, the hashes on this one.
import { Worker } from 'node:worker_threads';
import { vigilEvents, type EventRegistry } from '@vigil/schemas';
import { schema, type BulkEncoder, type BulkRebuild, type EncodedRows, type StoredMessages } from '@vigil/store';
import { emptyChain, type ChainHead } from './chain.ts';
import { AuditRowEncoder, auditCopyColumns, chainStart, isRowsReply, linkChain, type AuditRowsText, type ChainPlace } from './bulk-rows.ts';

/**
 * Ids a rebuild remembers by default: 65 536 records (over 2 minutes at 500 records/s), about 6 MB. More costs
 * more than it saves: a larger set is slower to consult and to collect, for every record.
 */
const rebuildRecentIds = 1 << 16;

/**
 * The fewest messages a worker thread is started for. Starting one costs about half a second of CPU (it loads the
 * schemas and their validators again) and this thread encodes until it is ready, so a smaller rebuild is about done
 * before the worker could help.
 */
const workerFromMessages = 50_000;

export interface AuditBulkRebuildOptions {
  /** The fewest messages a worker thread is started for (default 50,000; 0: always, when the registry allows). */
  readonly workerFrom?: number;
  /**
   * Every batch to the worker thread, none encoded here while it starts (tests: to hold the worker to the rows this
   * thread makes). A worker that cannot start then fails the rebuild.
   */
  readonly workerOnly?: boolean;
}

/**
 * The rows of a rebuild from an empty table: the same chain as the projection's `apply` builds batch by batch, with
 * the head and the last `recentIds` event ids kept here rather than read back from the table for every batch. A
 * duplicate further back is chained again, audit_log's unique event_id refuses it, and the rebuild runs again through
 * `apply`.
 */
/** Starts the rebuild's worker thread now (see RowsWorker.warm): for a command about to rebuild `audit_log`. */
export function prepareAuditRebuild(): void {
  RowsWorker.warm();
}

export function createAuditBulkRebuild(recentIds = rebuildRecentIds, options: AuditBulkRebuildOptions = {}): BulkRebuild<typeof schema.auditLog> {
  return {
    table: schema.auditLog,
    start({ registry, messages }) {
      // The worker validates with vigilEvents: any other registry may accept or refuse other messages.
      const worker = registry === vigilEvents && messages >= (options.workerFrom ?? workerFromMessages);
      return new AuditBulkEncoder(registry, chainStart(recentIds), worker ? (options.workerOnly ? 'only' : 'when ready') : 'none');
    },
  };
}

/**
 * Encodes on this thread until the worker thread is ready, then hands it the place in the chain and sends it every
 * batch after. Batches are encoded in the order they come whichever thread does it (the worker only gets batches
 * once this thread has stopped encoding), and linked (hashed) here in that order.
 */
class AuditBulkEncoder implements BulkEncoder {
  #head: ChainHead = emptyChain;
  /** This thread's encoder, until the worker takes over. */
  #here: AuditRowEncoder | undefined;
  readonly #worker: RowsWorker | undefined;
  /** Whether this thread encodes while the worker starts. */
  readonly #hereUntilReady: boolean;

  constructor(registry: EventRegistry, place: ChainPlace, worker: 'none' | 'when ready' | 'only') {
    this.#here = new AuditRowEncoder(registry, place);
    this.#worker = worker === 'none' ? undefined : RowsWorker.take((text) => this.#link(text));
    this.#hereUntilReady = worker !== 'only';
  }

  #link(text: AuditRowsText): EncodedRows {
    this.#head = linkChain(this.#head, text);
    return { columns: auditCopyColumns, copy: text.copy, rejected: text.rejected };
  }

  encode(batch: StoredMessages): Promise<EncodedRows> {
    if (this.#here && (!this.#worker || (this.#hereUntilReady && !this.#worker.ready))) {
      try {
        return Promise.resolve(this.#link(this.#here.encode(batch)));
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    const place = this.#here?.place();
    this.#here = undefined;
    if (!this.#worker) return Promise.reject(new Error('the audit rebuild has no encoder left'));
    return this.#worker.encode(batch, place);
  }

  async close(): Promise<void> {
    await this.#worker?.release();
  }
}

/** How long a worker thread is kept after a rebuild, for the next one in this process to find it ready. */
const workerKeptMs = 60_000;

/**
 * A worker thread and the batches it has been sent: it answers them in order, and each answer is linked (by the
 * rebuild's `link`, on this thread) as it arrives, in that order. A failure fails every batch after it (the chain's
 * head is lost), and the thread with it. After a rebuild a sound thread is kept a while, not running and not holding
 * the process open, for the next rebuild: starting one costs more than a rebuild of tens of thousands of events.
 */
class RowsWorker {
  static #kept: { readonly worker: RowsWorker; readonly timer: NodeJS.Timeout } | undefined;

  readonly #thread: Worker;
  #link: (text: AuditRowsText) => EncodedRows;
  readonly #waiting: { resolve: (rows: EncodedRows) => void; reject: (err: Error) => void }[] = [];
  #ready = false;
  #failure: Error | undefined;

  private constructor(thread: Worker, link: (text: AuditRowsText) => EncodedRows) {
    this.#thread = thread;
    this.#link = link;
    thread.on('message', (reply: unknown) => this.#receive(reply));
    thread.on('error', (err) => this.#fail(err));
    thread.on('exit', (code) => this.#fail(new Error(`the audit rebuild worker exited (${code})`)));
  }

  /**
   * A worker thread for one rebuild whose rows `link` hashes: the one kept from the rebuild before, or a new one; or
   * undefined when none can be started (the batches are then all encoded on this thread).
   */
  static take(link: (text: AuditRowsText) => EncodedRows): RowsWorker | undefined {
    const kept = RowsWorker.#kept;
    RowsWorker.#kept = undefined;
    if (kept) {
      clearTimeout(kept.timer);
      if (!kept.worker.#failure) {
        kept.worker.#link = link;
        kept.worker.#thread.ref();
        return kept.worker;
      }
      void kept.worker.#thread.terminate();
    }
    // Node 20 gives a worker thread neither the process's --import hooks (tsx) nor another way to load TypeScript:
    // its first module, JavaScript, registers tsx, then imports the worker's. TypeBox (the schemas' validators, some
    // 700 modules) is imported before tsx is registered: through tsx's hooks it loads twice as slowly, and the
    // schemas then find it loaded.
    let tsx: string;
    let preload: string[];
    try {
      tsx = import.meta.resolve('tsx/esm/api');
      preload = [import.meta.resolve('typebox'), import.meta.resolve('typebox/compile')];
    } catch {
      return undefined;
    }
    const workerModule = new URL('./bulk-rebuild-worker.ts', import.meta.url).href;
    const imports = preload.map((url) => `import(${JSON.stringify(url)})`).join(', ');
    const bootstrap = `Promise.all([${imports}]).then(() => import(${JSON.stringify(tsx)})).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerModule)}); });`;
    return new RowsWorker(new Worker(bootstrap, { eval: true, execArgv: [] }), link);
  }

  /**
   * Starts a thread ahead of a rebuild, kept as after one: what a command that is about to rebuild calls first, so the
   * thread's start (a second or so: the schemas and validators load again there) overlaps the command's own.
   */
  static warm(): void {
    if (RowsWorker.#kept) return;
    void RowsWorker.take(() => {
      throw new Error('the audit rebuild worker answered while no rebuild was using it');
    })?.release();
  }

  /** Ready for batches: until then, and for good if it never gets there, this thread encodes them. */
  get ready(): boolean {
    return this.#ready && !this.#failure;
  }

  encode(batch: StoredMessages, place: ChainPlace | undefined): Promise<EncodedRows> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<EncodedRows>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#thread.postMessage({ batch, place }, [batch.seqs.buffer, batch.payloads.buffer, batch.ends.buffer]);
    });
  }

  #receive(reply: unknown): void {
    if (!isRowsReply(reply)) return this.#fail(new Error('the audit rebuild worker answered something other than rows'));
    if ('ready' in reply) {
      this.#ready = true;
      return;
    }
    const waiting = this.#waiting.shift();
    if (!waiting) return this.#fail(new Error('the audit rebuild worker answered a batch it was not sent'));
    if ('failure' in reply) return this.#fail(new Error(reply.failure), waiting);
    if (this.#failure) return waiting.reject(this.#failure);
    try {
      waiting.resolve(this.#link(reply.text));
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)), waiting);
    }
  }

  #fail(err: Error, first?: { reject: (err: Error) => void }): void {
    this.#failure ??= err;
    first?.reject(err);
    for (const waiting of this.#waiting.splice(0)) waiting.reject(this.#failure);
  }

  /** The rebuild is over: the thread is kept for the next one if it is sound and none is kept yet, else stopped. */
  async release(): Promise<void> {
    if (!this.#failure && this.#waiting.length === 0 && !RowsWorker.#kept) {
      this.#link = () => {
        throw new Error('the audit rebuild worker answered while no rebuild was using it');
      };
      this.#thread.unref();
      const timer = setTimeout(() => {
        if (RowsWorker.#kept?.worker === this) RowsWorker.#kept = undefined;
        void this.#stop();
      }, workerKeptMs);
      timer.unref();
      RowsWorker.#kept = { worker: this, timer };
      return;
    }
    await this.#stop();
  }

  async #stop(): Promise<void> {
    this.#fail(new Error('the audit rebuild worker was stopped'));
    await this.#thread.terminate();
  }
}
