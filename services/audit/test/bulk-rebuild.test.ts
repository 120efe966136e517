// The bulk rebuild of audit_log: its COPY text against the rows the projector makes (on this thread, on the worker
// thread, and across the hand-over between them), then whole rebuilds through the worker on real NATS and real
// databases, row for row what the projector wrote.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, createEvent, type Bus } from '@vigil/bus';
import { AccessDeniedAudit, ChainCheckpointed, MessageRejected, StreamName, vigilEvents, type AnyEnvelope } from '@vigil/schemas';
import { copyEncoder, readCheckpoint, rebuildProjection, schema, startProjector, type BulkRebuild, type EncodedRows, type StoredMessages } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus, type TestBus, type TestDatabase } from '@vigil/testkit';
import { getTableColumns } from 'drizzle-orm';
import { AuditRowEncoder, auditCopyColumns, chainStart, linkChain } from '../src/bulk-rows.ts';
import { ChainBuilder, emptyChain, entryOf, RecentIds } from '../src/chain.ts';
import { auditProjection, createAuditBulkRebuild, rowOf } from '../src/projection.ts';
import { summarise } from '../src/summary.ts';
import { verifyAudit } from '../src/verify.ts';

const utf8 = new TextEncoder();
/** Text COPY must escape, and text JSON must escape, in every free-text field an AUDIT event has. */
const awkward = ['tab\there', 'line\nbreak\r\n', 'back\\slash \\N', 'quote " \' ', 'é ü 😀 €', 'control \u001f'];

/** AUDIT events of every shape a record takes: summaries, rejections (no tenant), denials (a tenant), awkward text. */
function auditEvents(count: number): AnyEnvelope[] {
  return Array.from({ length: count }, (_, i): AnyEnvelope => {
    const text = awkward[i % awkward.length] ?? '';
    switch (i % 3) {
      case 0: {
        const source = createEvent(MessageRejected, { category: 'system', severity: 'notice', consumer: 'c', stream: 'S', stream_seq: 1, subject: 's', reason: 'invalid', problems: [] }, { actor: { kind: 'system', id: 'src' } });
        return summarise('AUTH_EVENT', i + 1, `auth.acme.user.u${i}`, { ...source, type: 'identity.session.started', tenant: `tenant${i % 4}` }).event;
      }
      case 1:
        return createEvent(
          MessageRejected,
          { category: 'system', severity: 'warning', consumer: `consumer ${text}`, stream: 'AUTH_EVENT', stream_seq: i + 1, subject: 'auth.x', reason: 'malformed', problems: [text, `${i}`] },
          { actor: { kind: 'service', id: `svc ${text}` }, correlationId: `corr ${text}` },
        );
      default:
        return createEvent(
          AccessDeniedAudit,
          { category: 'authorization', severity: 'warning', user_id: `u${i}`, permission: 'audit:read', route: `GET /x?q=${text}` },
          { actor: { kind: 'user', id: `u${i}` }, tenant: 'acme', causationId: `cause-${i}` },
        );
    }
  });
}

/** Stored messages as the stream holds them: the events, a checkpoint, a duplicate, and two that fail validation. */
const stored = storedPayloads();

function storedPayloads(): { seqs: number[]; subjects: string[]; payloads: Uint8Array[] } {
  const events = auditEvents(60);
  const checkpoint = createEvent(ChainCheckpointed, { category: 'system', severity: 'info', algorithm: 'sha256-jcs-v1', position: 3, seq: 3, hash: 'a'.repeat(64) }, { actor: { kind: 'service', id: 'audit' } });
  const messages: (AnyEnvelope | string)[] = [...events.slice(0, 20), checkpoint, events[4] ?? '', '{"not":"an event"}', 'not json at all', ...events.slice(20)];
  return {
    seqs: messages.map((_, i) => i + 1),
    subjects: messages.map((_, i) => `audit.acme.s${i % 5}`),
    payloads: messages.map((m) => utf8.encode(typeof m === 'string' ? m : JSON.stringify(m))),
  };
}

/** The stored messages in batches of `size`, packed as rebuildProjection packs them. */
function batchesOf(size: number): StoredMessages[] {
  const { seqs, subjects, payloads } = stored;
  const batches: StoredMessages[] = [];
  for (let from = 0; from < payloads.length; from += size) {
    const slice = payloads.slice(from, from + size);
    const ends = new Uint32Array(slice.length);
    let bytes = 0;
    slice.forEach((p, i) => (ends[i] = bytes += p.length));
    const packed = new Uint8Array(bytes);
    slice.forEach((p, i) => packed.set(p, (ends[i] ?? 0) - p.length));
    batches.push({ count: slice.length, seqs: Float64Array.from(seqs.slice(from, from + size)), subjects: subjects.slice(from, from + size), payloads: packed, ends });
  }
  return batches;
}

/** What the projector's rows give as COPY text: ChainBuilder's records, rowOf, copyEncoder. */
function projectorCopyText(recentIds: number): { text: string; rejected: number } {
  const { seqs, subjects, payloads } = stored;
  const chain = new ChainBuilder(emptyChain, new Set(), new RecentIds(recentIds));
  const rows = [];
  let rejected = 0;
  for (const [i, payload] of payloads.entries()) {
    const read = vigilEvents.read(payload);
    if (!read.ok) {
      rejected++;
      continue;
    }
    const entry = entryOf(seqs[i] ?? 0, subjects[i] ?? '', read.event);
    const chained = entry && chain.append(entry);
    if (chained) rows.push(rowOf(chained));
  }
  const first = rows[0];
  assert.ok(first);
  return { text: copyEncoder(schema.auditLog, first).encode(rows), rejected };
}

/**
 * Holds two COPY texts to be the same rows: every field byte for byte, but `details`, which is JSON for a jsonb
 * column (the bulk rebuild writes its canonical text, copyEncoder JSON.stringify's: the same value, keys in another order).
 */
function assertSameRows(actual: string, expected: string): void {
  const details = auditCopyColumns.indexOf('details');
  const unescape = (field: string) => field.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
  const linesOf = (text: string) => text.split('\n').filter((l) => l !== '');
  const actualLines = linesOf(actual);
  const expectedLines = linesOf(expected);
  assert.equal(actualLines.length, expectedLines.length);
  for (const [n, line] of actualLines.entries()) {
    const fields = line.split('\t');
    const wanted = (expectedLines[n] ?? '').split('\t');
    assert.equal(fields.length, auditCopyColumns.length);
    for (const [i, field] of fields.entries()) {
      if (i === details) assert.deepEqual(JSON.parse(unescape(field)), JSON.parse(unescape(wanted[i] ?? '')), `line ${n + 1} details`);
      else assert.equal(field, wanted[i], `line ${n + 1} ${auditCopyColumns[i]}`);
    }
  }
}

async function encodeAll(bulk: BulkRebuild, batches: readonly StoredMessages[]): Promise<{ text: string; rejected: number }> {
  const encoder = bulk.start({ registry: vigilEvents, messages: 1 });
  try {
    // As rebuildProjection does: every batch sent before the first answer is awaited.
    const answers: Promise<EncodedRows>[] = batches.map((b) => encoder.encode(b));
    let text = '';
    let rejected = 0;
    for (const answer of answers) {
      const rows = await answer;
      assert.deepEqual(rows.columns, auditCopyColumns);
      text += Buffer.from(rows.copy).toString('utf8');
      rejected += rows.rejected;
    }
    return { text, rejected };
  } finally {
    await encoder.close();
  }
}

describe('the bulk rebuild’s COPY text', () => {
  test('its columns are audit_log’s, in the order rowOf gives them', () => {
    const chained = new ChainBuilder().append(entryOf(1, 'audit.acme.s', auditEvents(1)[0] ?? assert.fail()) ?? assert.fail());
    assert.ok(chained);
    const columnNames = new Map(Object.entries(getTableColumns(schema.auditLog)).map(([key, column]) => [key, column.name]));
    assert.deepEqual(
      auditCopyColumns,
      Object.keys(rowOf(chained)).map((key) => columnNames.get(key)),
    );
    assert.equal(auditCopyColumns.length, columnNames.size);
  });

  test('on this thread: the projector’s rows, hashes and all, the duplicate and the checkpoint left out', async () => {
    const expected = projectorCopyText(1 << 16);
    for (const size of [1, 7, 1000]) {
      const actual = await encodeAll(createAuditBulkRebuild(1 << 16, { workerFrom: Infinity }), batchesOf(size));
      assertSameRows(actual.text, expected.text);
      assert.equal(actual.rejected, 2);
      assert.equal(expected.rejected, 2);
    }
  });

  test('on the worker thread: the same rows', { timeout: 60_000 }, async () => {
    const expected = projectorCopyText(1 << 16);
    const actual = await encodeAll(createAuditBulkRebuild(1 << 16, { workerFrom: 0, workerOnly: true }), batchesOf(9));
    assertSameRows(actual.text, expected.text);
    assert.equal(actual.rejected, 2);
    // Kept from the rebuild before, the worker starts the next chain from the start.
    const again = await encodeAll(createAuditBulkRebuild(1 << 16, { workerFrom: 0, workerOnly: true }), batchesOf(13));
    assertSameRows(again.text, expected.text);
  });

  test('handed over between threads mid-chain (the place and the recent ids going along): the same rows', () => {
    // A window of 3 ids: the duplicate (17 messages after its first) is chained again, as ChainBuilder does.
    const expected = projectorCopyText(3);
    const batches = batchesOf(8);
    let encoder = new AuditRowEncoder(vigilEvents, chainStart(3));
    let head = emptyChain;
    let text = '';
    for (const [i, batch] of batches.entries()) {
      if (i % 2 === 1) encoder = new AuditRowEncoder(vigilEvents, structuredClone(encoder.place()));
      const rows = encoder.encode(batch);
      head = linkChain(head, rows);
      text += Buffer.from(rows.copy).toString('utf8');
    }
    assertSameRows(text, expected.text);
    assert.notEqual(expected.text, projectorCopyText(1 << 16).text, 'the small window lets the duplicate through');
  });
});

const kinds = await availableDatabaseKinds();

describe('a bulk rebuild through the worker thread', () => {
  let t: TestBus;
  before(async () => {
    // The registry a process has: the worker validates with it.
    t = await startTestBus();
  });
  after(async () => {
    await t.close();
  });

  for (const kind of kinds) {
    describe(`on ${kind}`, () => {
      let db: TestDatabase;
      let bus: Bus;
      before(async () => {
        db = await createTestDatabase(kind);
        bus = await t.connect(`bulk-${kind}`, { namespace: `${t.bus.names.namespace}${kind}` });
      });
      after(async () => {
        for (const s of bus.streams) await bus.jsm.streams.delete(bus.names.stream(s.name)).catch(() => false);
        await db.close();
      });

      test('writes the rows the projector writes, row for row, and verify finds the chain intact', { timeout: 120_000 }, async () => {
        const events = auditEvents(300);
        for (const [i, event] of events.entries()) {
          await append(bus, `audit.${event.tenant ?? '_platform'}.test`, event);
          // A publish retried after the server's duplicate window. (No message that fails validation: the projector
          // would report it on AUDIT, a record more; the COPY text tests above step over two.)
          if (i === 100) await bus.js.publish(bus.names.subject('audit.acme.test'), utf8.encode(JSON.stringify(events[50])));
        }
        const last = (await bus.jsm.streams.info(bus.names.stream(StreamName.Audit))).state.last_seq;
        const projector = await startProjector(bus, db.database, auditProjection, { instance: `projector-${kind}`, batchSize: 64 });
        const deadline = Date.now() + 60_000;
        while ((await readCheckpoint(db.database, auditProjection.name)) < last) {
          if (Date.now() > deadline) throw new Error('the projector did not catch up');
          await new Promise((r) => setTimeout(r, 25));
        }
        await projector.stop();
        const rowsOfTable = () => db.database.db.select().from(schema.auditLog).orderBy(schema.auditLog.position);
        const projected = await rowsOfTable();
        assert.equal(projected.length, 300);

        for (const options of [{ workerFrom: 0, workerOnly: true }, { workerFrom: 0 }]) {
          let encoded = 0;
          let failed = false;
          const bulk = createAuditBulkRebuild(undefined, options);
          // Counts the rows the bulk path encoded: all of them, none refused, so it did not fall back to the projector.
          const counting: BulkRebuild = {
            table: bulk.table,
            start(context) {
              const encoder = bulk.start(context);
              return {
                encode: (batch) =>
                  encoder.encode(batch).then(
                    (rows) => {
                      encoded += Buffer.from(rows.copy).toString('utf8').split('\n').length - 1;
                      return rows;
                    },
                    (err: unknown) => {
                      failed = true;
                      throw err;
                    },
                  ),
                close: () => encoder.close(),
              };
            },
          };
          const result = await rebuildProjection(bus, db.database, { ...auditProjection, bulkRebuild: counting }, { instance: `bulk-${kind}`, batchSize: 32 });
          assert.equal(result.checkpoint, last);
          assert.equal(failed, false);
          assert.equal(encoded, 300);
          assert.deepEqual(await rowsOfTable(), projected);
          assert.equal((await verifyAudit(bus, db.database)).intact, true);
        }
      });
    });
  }
});
