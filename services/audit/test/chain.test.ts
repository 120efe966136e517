// The chain's pure logic: canonical JSON, hashing, building, and each kind of tampering a check must name.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ChainCheckpointed, EventSummarised, MessageRejected, vigilEvents, type AnyEnvelope } from '@vigil/schemas';
import {
  canonicalJson,
  canonicalRecordJson,
  ChainBuilder,
  chainHash,
  checkCheckpoint,
  compareWithStream,
  entryOf,
  genesisHash,
  RecentIds,
  recordFields,
  StoredChainCheck,
  type AuditEntry,
  type AuditRecord,
  type ChainedRecord,
} from '../src/chain.ts';
import { derivedId } from '@vigil/crypto';
import { categoryOf, severityOf, summarise } from '../src/summary.ts';

function entry(seq: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq,
    event_id: derivedId('test', String(seq)),
    type: 'audit.test.happened',
    v: 1,
    at: new Date(Date.UTC(2026, 10, 22, 10, 0, seq)).toISOString(),
    tenant: seq % 2 === 0 ? 'acme' : null,
    actor: { kind: 'user', id: `u${seq}` },
    correlation_id: `c${seq}`,
    causation_id: null,
    category: 'authentication',
    severity: 'info',
    subject: 'audit.acme.authentication',
    details: { n: seq },
    ...overrides,
  };
}

function chainOf(count: number): ChainedRecord[] {
  const builder = new ChainBuilder();
  return Array.from({ length: count }, (_, i) => {
    const r = builder.append(entry(i * 2 + 1));
    assert.ok(r);
    return r;
  });
}

function firstBreak(rows: readonly ChainedRecord[]) {
  const check = new StoredChainCheck();
  for (const row of rows) {
    const problem = check.push(row);
    if (problem) return problem;
  }
  return undefined;
}

describe('the chain', () => {
  test('links each record to the one before, from the genesis hash', () => {
    const rows = chainOf(5);
    assert.equal(rows[0]?.prev_hash, genesisHash);
    assert.deepEqual(
      rows.map((r) => r.position),
      [1, 2, 3, 4, 5],
    );
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]?.prev_hash, rows[i - 1]?.hash);
    assert.equal(firstBreak(rows), undefined);
  });

  test('the hash is SHA-256 of the previous hash bytes then the canonical record, and ignores the hash fields', () => {
    const [first] = chainOf(1);
    assert.ok(first);
    const { prev_hash: _p, hash: _h, ...record } = first;
    const expected = createHash('sha256').update(Buffer.alloc(32)).update(canonicalJson(record)).digest('hex');
    assert.equal(first.hash, expected);
    assert.equal(chainHash(genesisHash, first), expected);
  });

  test('a record is hashed as the generic RFC 8785 text of its fields, whatever they hold', () => {
    const text = fc.string({ unit: 'grapheme' });
    const record = fc.record({
      position: fc.integer({ min: 1 }),
      seq: fc.integer({ min: 1 }),
      event_id: text,
      type: text,
      v: fc.integer({ min: 1, max: 1000 }),
      at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      tenant: fc.option(text, { nil: null }),
      actor: fc.record({ kind: text, id: text }),
      correlation_id: text,
      causation_id: fc.option(text, { nil: null }),
      category: text,
      severity: text,
      subject: text,
      details: fc.dictionary(text, fc.jsonValue()),
    });
    fc.assert(
      fc.property(record, fc.stringMatching(/^[0-9a-f]{64}$/), (r: AuditRecord, prev) => {
        const generic = canonicalJson(recordFields(r));
        assert.equal(canonicalRecordJson(r), generic);
        assert.equal(chainHash(prev, r), createHash('sha256').update(Buffer.from(prev, 'hex')).update(generic, 'utf8').digest('hex'));
        const { position: _p, ...fields } = r;
        const chained = new ChainBuilder({ position: r.position - 1, hash: prev }).append(fields);
        assert.deepEqual(chained, { ...recordFields(r), prev_hash: prev, hash: chainHash(prev, r) });
      }),
      { numRuns: 500 },
    );
  });

  test('an event id already chained is skipped, so a duplicate on the stream is recorded once', () => {
    const builder = new ChainBuilder();
    assert.ok(builder.append(entry(1)));
    assert.equal(builder.append(entry(7, { event_id: derivedId('test', '1') })), undefined);
    assert.equal(builder.head.position, 1);
    const resumed = new ChainBuilder(builder.head, new Set([derivedId('test', '1')]));
    assert.equal(resumed.append(entry(9, { event_id: derivedId('test', '1') })), undefined);
    assert.equal(resumed.append(entry(11))?.position, 2);
  });

  test('a builder with a window of recent ids skips a duplicate inside it and, in bounded memory, not one further back', () => {
    const builder = new ChainBuilder(undefined, undefined, new RecentIds(2));
    const whole = new ChainBuilder();
    const duplicateOf1 = (seq: number) => entry(seq, { event_id: derivedId('test', '1') });
    for (const e of [entry(1), entry(3), duplicateOf1(5)]) assert.deepEqual(builder.append(e), whole.append(e));
    assert.equal(builder.head.position, 2, 'the duplicate inside the window is skipped');
    builder.append(entry(7));
    whole.append(entry(7));
    // Ids 3 and 7 are remembered now, 1 is not: the window chains it again, where the whole memory does not.
    assert.equal(builder.append(duplicateOf1(9))?.position, 4);
    assert.equal(whole.append(duplicateOf1(9)), undefined);
  });

  test('an edited record is named, with the hash its content has and the hash it claims', () => {
    const rows = chainOf(6);
    const edited = rows.map((r) => (r.position === 4 ? { ...r, actor: { kind: 'user', id: 'someone-else' } } : r));
    const problem = firstBreak(edited);
    assert.equal(problem?.position, 4);
    assert.equal(problem?.seq, 7);
    assert.match(problem?.problem ?? '', /content/);
    assert.equal(problem?.found, rows[3]?.hash);
    assert.notEqual(problem?.expected, rows[3]?.hash);
  });

  test('a deleted record is named by its position', () => {
    const rows = chainOf(6);
    const problem = firstBreak(rows.filter((r) => r.position !== 3));
    assert.equal(problem?.position, 3);
    assert.match(problem?.problem ?? '', /missing/);
  });

  test('records in another order break at the first one moved', () => {
    const rows = chainOf(6);
    const swapped = [rows[0], rows[1], rows[3], rows[2], rows[4], rows[5]].flatMap((r) => (r ? [r] : []));
    // Moved with their positions renumbered, as an UPDATE of the position column would leave them.
    const renumbered = swapped.map((r, i) => ({ ...r, position: i + 1 }));
    const problem = firstBreak(renumbered);
    assert.equal(problem?.position, 3);
    assert.match(problem?.problem ?? '', /prev_hash/);
  });

  test('a chain rebuilt whole by a forger is caught against the stream and its checkpoints', () => {
    const rows = chainOf(4);
    const forger = new ChainBuilder();
    const forged = rows.map((r) => forger.append({ ...r, details: { n: 0 } }));
    assert.equal(firstBreak(forged.flatMap((r) => (r ? [r] : []))), undefined, 'self-consistent');
    const problem = compareWithStream(rows[0] ?? assert.fail(), forged[0]);
    assert.equal(problem?.position, 1);
    const checkpoint = { streamSeq: 99, position: 4, seq: rows[3]?.seq ?? 0, hash: rows[3]?.hash ?? '' };
    assert.equal(checkCheckpoint(checkpoint, rows[3], 'table'), undefined);
    assert.equal(checkCheckpoint(checkpoint, forged[3], 'table')?.position, 4);
    assert.equal(compareWithStream(rows[2] ?? assert.fail(), undefined)?.found, 'no record');
  });
});

describe('entries of AUDIT events', () => {
  const base = { id: derivedId('t', 'x'), v: 1, at: '2026-11-22T12:00:00+02:00', actor: { kind: 'service', id: 'kme' }, correlation_id: 'c1' } as const;

  test('category and severity come from the data; the rest of the data is the details; time is UTC to the ms', () => {
    const event: AnyEnvelope = { ...base, type: MessageRejected.type, tenant: 'acme', data: { category: 'system', severity: 'warning', consumer: 'x', reason: 'invalid' } };
    const e = entryOf(5, 'audit.acme.system', event);
    assert.equal(e?.category, 'system');
    assert.equal(e?.severity, 'warning');
    assert.deepEqual(e?.details, { consumer: 'x', reason: 'invalid' });
    assert.equal(e?.at, '2026-11-22T10:00:00.000Z');
    assert.equal(e?.tenant, 'acme');
    assert.equal(e?.causation_id, null);
  });

  test('a checkpoint is not an entry', () => {
    const event: AnyEnvelope = { ...base, type: ChainCheckpointed.type, data: { category: 'system', severity: 'info', algorithm: 'sha256-jcs-v1', position: 1, seq: 1, hash: genesisHash } };
    assert.equal(entryOf(9, 'audit._platform.chain', event), undefined);
  });
});

describe('summaries', () => {
  const source: AnyEnvelope = {
    id: '01890a5d-ac96-774b-bcce-b302099a8057',
    type: 'identity.session.started',
    v: 1,
    at: '2026-11-22T10:00:00.000Z',
    tenant: 'acme',
    actor: { kind: 'user', id: 'u-1' },
    correlation_id: 'corr-1',
    data: { password: 'never copied', email: 'never@copied.example' },
  };

  test('carry who, what, where, and nothing of the data; the same source gives the same summary', () => {
    const s = summarise('AUTH_EVENT', 42, 'auth.acme.user.u-1', source);
    assert.equal(s.subject, 'audit.acme.authentication');
    assert.deepEqual(s, summarise('AUTH_EVENT', 42, 'auth.acme.user.u-1', source));
    assert.equal(s.event.id, derivedId('audit.summary', source.id));
    assert.equal(s.event.causation_id, source.id);
    assert.equal(s.event.correlation_id, 'corr-1');
    assert.deepEqual(s.event.data.source, { stream: 'AUTH_EVENT', seq: 42, subject: 'auth.acme.user.u-1', event_id: source.id, type: source.type, v: 1 });
    assert.doesNotMatch(JSON.stringify(s), /never/);
    assert.deepEqual(EventSummarised.problems(s.event), []);
    assert.equal(vigilEvents.validate(s.event).ok, true);
  });

  test('a source without tenant is filed under _platform', () => {
    const { tenant: _t, ...platform } = source;
    assert.equal(summarise('KEY_REQUEST', 1, 'keyreq.l1.pool', { ...platform, type: 'kme.pool.keys_allocated' }).subject, 'audit._platform.key_access');
  });

  test('categories and severities by stream and type', () => {
    assert.equal(categoryOf('KEY_REQUEST', 'kme.keys.retrieved'), 'key_access');
    assert.equal(categoryOf('KEY_REQUEST', 'kme.topology.sae_configured'), 'administration');
    assert.equal(categoryOf('DEVICE_REGISTRY', 'devices.device.registered'), 'device_access');
    assert.equal(categoryOf('AUTH_EVENT', 'identity.user.login_failed'), 'authentication');
    assert.equal(categoryOf('AUTH_EVENT', 'identity.user.locked'), 'authentication');
    assert.equal(categoryOf('AUTH_EVENT', 'identity.role.granted'), 'authorization');
    assert.equal(categoryOf('AUTH_EVENT', 'identity.tenant.created'), 'administration');
    assert.equal(severityOf('identity.user.login_failed'), 'warning');
    assert.equal(severityOf('identity.user.created'), 'info');
  });

  test('derived ids are UUIDv8, stable, and differ by purpose and name', () => {
    const id = derivedId('audit.summary', 'x');
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(id, derivedId('audit.summary', 'x'));
    assert.notEqual(id, derivedId('audit.summary', 'y'));
    assert.notEqual(id, derivedId('audit.checkpoint', 'x'));
  });
});
