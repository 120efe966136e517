// The audit service end to end on real NATS and real databases: summaries, the chained audit_log, checkpoints,
// append-only enforcement, tampering found by verify, export re-verified independently, rebuild and replay.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { append, createEvent, type Bus } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import type { StartedService } from '@vigil/runtime';
import { defineEvent, StreamName, vigilEvents } from '@vigil/schemas';
import { compareWithRebuild, readCheckpoint, rebuildProjection, rowsOf, type Database } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, startTestBus, testLogger, type TestBus, type TestDatabase } from '@vigil/testkit';
import { sql } from 'drizzle-orm';
import Type from 'typebox';
import { lastCheckpoint } from '../src/checkpoints.ts';
import { exportAudit } from '../src/export.ts';
import { auditProjection, createAuditBulkRebuild } from '../src/projection.ts';
import { replayStream } from '../src/replay.ts';
import { createAuditService } from '../src/service.ts';
import { readDeliveries } from '../src/stream-reader.ts';
import { summarise } from '../src/summary.ts';
import { verifyAudit } from '../src/verify.ts';

// Source events that exist only for this test, one per summarised stream.
const SessionStarted = defineEvent(StreamName.AuthEvent, 'test.session.started', 1, Type.Object({ password: Type.String() }, { additionalProperties: false }));
const KeysRetrieved = defineEvent(StreamName.KeyRequest, 'test.keys.retrieved', 1, Type.Object({ key_material: Type.String() }, { additionalProperties: false }));
const DeviceRegistered = defineEvent(StreamName.DeviceRegistry, 'test.device.registered', 1, Type.Object({ owner_email: Type.String() }, { additionalProperties: false }));
const registry = vigilEvents.with([SessionStarted, KeysRetrieved, DeviceRegistered]);

const secret = 'this-must-never-reach-the-audit-trail';
const checkpointEvery = 5;

let t: TestBus;
before(async () => {
  t = await startTestBus({ registry });
});
after(async () => {
  await t.close();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function auditLastSeq(bus: Bus): Promise<number> {
  return (await bus.jsm.streams.info(bus.names.stream(StreamName.Audit))).state.last_seq;
}

/** Until the projection has applied everything on AUDIT, and it has `records` rows. */
async function projected(bus: Bus, database: Database, records: number): Promise<void> {
  await until(`${records} audit records`, async () => (await countRows(database)) >= records && (await readCheckpoint(database, auditProjection.name)) >= (await auditLastSeq(bus)));
}

async function countRows(database: Database): Promise<number> {
  return Number(rowsOf(await database.db.execute(sql`select count(*)::int as n from audit_log`))[0]?.['n'] ?? 0);
}

async function chainOf(database: Database): Promise<{ position: number; seq: number; hash: string }[]> {
  const { schema } = await import('@vigil/store');
  return database.db.select({ position: schema.auditLog.position, seq: schema.auditLog.seq, hash: schema.auditLog.hash }).from(schema.auditLog).orderBy(schema.auditLog.position);
}

/** Tampering as a superuser would: the append-only trigger switched off around the change, in one transaction. */
async function tamper(database: Database, change: string): Promise<void> {
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`alter table audit_log disable trigger audit_log_append_only`);
    for (const statement of change.split(';')) await tx.execute(sql.raw(statement));
    await tx.execute(sql`alter table audit_log enable trigger audit_log_append_only`);
  });
}

// ---------------------------------------------------------------------------------------------------------
// An auditor's own verifier, sharing no code with the service: @noble/hashes and a canonical JSON written here.
// The records hold only strings, integers, null and objects, for which sorting keys by UTF-16 code units and
// JSON.stringify's escaping is RFC 8785.
// ---------------------------------------------------------------------------------------------------------

function jcs(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jcs(v)}`).join(',')}}`;
}

function independentlyVerify(lines: readonly string[]): { records: number; head: string } {
  let previous: { position: number; hash: string } | undefined;
  for (const line of lines) {
    const parsed: unknown = JSON.parse(line);
    assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed));
    const { prev_hash: prevHash, hash, algorithm, ...record } = Object.fromEntries(Object.entries(parsed));
    assert.equal(algorithm, 'sha256-jcs-v1');
    assert.ok(typeof prevHash === 'string' && typeof hash === 'string' && typeof record['position'] === 'number');
    const prefix = hexToBytes(prevHash);
    const body = utf8ToBytes(jcs(record));
    const input = new Uint8Array(prefix.length + body.length);
    input.set(prefix);
    input.set(body, prefix.length);
    assert.equal(bytesToHex(sha256(input)), hash, `record ${record['position']} hash`);
    if (previous && record['position'] === previous.position + 1) assert.equal(prevHash, previous.hash, `record ${record['position']} link`);
    if (record['position'] === 1) assert.equal(prevHash, '0'.repeat(64));
    previous = { position: record['position'], hash };
  }
  return { records: lines.length, head: previous?.hash ?? '' };
}

for (const kind of await availableDatabaseKinds()) {
  describe(`audit on ${kind}`, () => {
    let db: TestDatabase;
    let bus: Bus;
    let service: StartedService | undefined;
    let sourceEvents = 0;

    const startService = async () => {
      const module = createAuditService({ checkpointEvery, batchSize: 7, leaseTtlMs: 1000 });
      return module.start({ config: loadConfig({}), logger: testLogger('audit'), bus, database: db.database, instance: `audit-${kind}`, version: 'test' });
    };

    before(async () => {
      db = await createTestDatabase(kind);
      bus = await t.connect(`audit-${kind}`, { namespace: `${t.bus.names.namespace}${kind}` });
      service = await startService();
    });
    after(async () => {
      await service?.stop();
      for (const s of bus.streams) await bus.jsm.streams.delete(bus.names.stream(s.name)).catch(() => false);
      await db.close();
    });

    test('state changes of KEY_REQUEST, AUTH_EVENT and DEVICE_REGISTRY are summarised into the chain, without their data', async () => {
      for (let i = 0; i < 4; i++) {
        await append(bus, `auth.acme.user.u${i}`, createEvent(SessionStarted, { password: secret }, { actor: { kind: 'user', id: `u${i}` }, tenant: 'acme', correlationId: `login-${i}` }));
        await append(bus, `keyreq.link1.req.r${i}`, createEvent(KeysRetrieved, { key_material: secret }, { actor: { kind: 'sae', id: 'sae-b' } }));
        await append(bus, `device.acme.d${i}`, createEvent(DeviceRegistered, { owner_email: secret }, { actor: { kind: 'user', id: 'admin' }, tenant: 'acme' }));
        sourceEvents += 3;
      }
      await projected(bus, db.database, sourceEvents);
      const rows = await db.database.db.select().from((await import('@vigil/store')).schema.auditLog).orderBy(sql`position`);
      assert.equal(rows.length, sourceEvents);
      assert.doesNotMatch(JSON.stringify(rows), new RegExp(secret));
      const login = rows.find((r) => r.correlationId === 'login-2');
      assert.ok(login);
      assert.equal(login.category, 'authentication');
      assert.equal(login.tenant, 'acme');
      assert.equal(login.actorId, 'u2');
      assert.equal(login.subject, 'audit.acme.authentication');
      assert.deepEqual(Object.keys(login.details ?? {}).sort(), ['source']);
      assert.deepEqual(new Set(rows.map((r) => r.category)), new Set(['authentication', 'key_access', 'device_access']));
    });

    test('a summary appears once when its source event is delivered again, and once when a duplicate is stored', async () => {
      const before = await chainOf(db.database);
      // The summariser's consumer loses everything it acked: every source event is delivered to it again.
      await service?.stop();
      for (const stream of ['AUTH_EVENT', 'KEY_REQUEST', 'DEVICE_REGISTRY']) await bus.jsm.consumers.delete(bus.names.stream(stream), `audit_summary_${stream}`);
      service = await startService();
      // A copy stored after the server's duplicate window (no Nats-Msg-Id here): the projection records it once.
      const source = createEvent(SessionStarted, { password: secret }, { actor: { kind: 'user', id: 'u9' }, tenant: 'acme' });
      const appended = await append(bus, 'auth.acme.user.u9', source);
      sourceEvents++;
      const summary = summarise('AUTH_EVENT', appended.seq, 'auth.acme.user.u9', source);
      await until('the summary', async () => (await bus.jsm.streams.getMessage(bus.names.stream('AUDIT'), { last_by_subj: bus.names.subject(summary.subject) }).catch(() => null))?.seq !== undefined);
      await bus.js.publish(bus.names.subject(summary.subject), new TextEncoder().encode(JSON.stringify(summary.event)));
      await projected(bus, db.database, sourceEvents);
      await new Promise((r) => setTimeout(r, 300));
      await projected(bus, db.database, sourceEvents);
      const afterwards = await chainOf(db.database);
      assert.equal(afterwards.length, sourceEvents);
      assert.deepEqual(afterwards.slice(0, before.length), before);
    });

    test('checkpoints on the stream, every N records, verify against the table', async () => {
      const head = (await chainOf(db.database)).at(-1);
      assert.ok(head);
      const wanted = Math.floor(head.position / checkpointEvery) * checkpointEvery;
      await until('the last checkpoint', async () => (await lastCheckpoint(bus))?.position === wanted);
      const checkpoint = await lastCheckpoint(bus);
      const row = (await chainOf(db.database)).find((r) => r.position === wanted);
      assert.equal(checkpoint?.hash, row?.hash);
      assert.equal(checkpoint?.seq, row?.seq);
      await projected(bus, db.database, sourceEvents);
      const report = await verifyAudit(bus, db.database);
      assert.equal(report.break, undefined);
      assert.equal(report.intact, true);
      assert.equal(report.records, sourceEvents);
      assert.equal(report.headHash, head.hash);
      assert.equal(report.checkpoints, Math.floor(sourceEvents / checkpointEvery));
    });

    test('UPDATE, DELETE and TRUNCATE of audit_log are refused', async () => {
      // Drizzle wraps the database's error; the trigger's message is its cause.
      const refused = (pattern: RegExp) => (err: unknown) => err instanceof Error && err.cause instanceof Error && pattern.test(err.cause.message);
      await assert.rejects(db.database.db.execute(sql`update audit_log set actor_id = 'mallory' where position = 1`), refused(/append-only: UPDATE refused/));
      await assert.rejects(db.database.db.execute(sql`delete from audit_log where position = 1`), refused(/append-only: DELETE refused/));
      await assert.rejects(db.database.db.execute(sql`truncate audit_log`), refused(/append-only: TRUNCATE refused/));
      assert.equal(await countRows(db.database), sourceEvents);
    });

    test('an export re-verifies with an independent implementation of the documented algorithm', async () => {
      const lines: string[] = [];
      for await (const record of exportAudit(db.database, {})) lines.push(JSON.stringify(record));
      const result = independentlyVerify(lines);
      assert.equal(result.records, sourceEvents);
      assert.equal(result.head, (await chainOf(db.database)).at(-1)?.hash);
      // A filtered export verifies record by record.
      const filtered: string[] = [];
      for await (const record of exportAudit(db.database, { tenant: 'acme', category: 'device_access' })) filtered.push(JSON.stringify(record));
      assert.equal(filtered.length, 4);
      independentlyVerify(filtered);
      // The checkpoint on the stream vouches for the exported record at its position.
      const checkpoint = await lastCheckpoint(bus);
      const exported = lines.map((l): unknown => JSON.parse(l)).find((r) => typeof r === 'object' && r !== null && 'position' in r && r.position === checkpoint?.position);
      assert.ok(typeof exported === 'object' && exported !== null && 'hash' in exported);
      assert.equal(exported.hash, checkpoint?.hash);
    });

    test('replay prints the events of a stream as they were recorded', async () => {
      const replayed = [];
      for await (const m of replayStream(bus, 'AUTH_EVENT', { fromSeq: 2 })) replayed.push(m);
      assert.equal(replayed[0]?.seq, 2);
      assert.ok(replayed.every((m) => m.stream === 'AUTH_EVENT' && m.subject.startsWith('auth.acme.user.')));
      const first = replayed[0]?.event;
      assert.ok(typeof first === 'object' && first !== null && 'type' in first && first.type === 'test.session.started');
      const later = [];
      for await (const m of replayStream(bus, 'AUTH_EVENT', { since: new Date(Date.now() + 60_000) })) later.push(m);
      assert.equal(later.length, 0);
    });

    describe('with the service stopped', () => {
      let original: { position: number; seq: number; hash: string }[] = [];
      before(async () => {
        await service?.stop();
        service = undefined;
        original = await chainOf(db.database);
      });
      const rebuild = async () => {
        await rebuildProjection(bus, db.database, auditProjection, { instance: `rebuild-${kind}`, batchSize: 3 });
        assert.deepEqual(await chainOf(db.database), original, 'the rebuilt chain has the same hashes');
        assert.equal((await verifyAudit(bus, db.database)).intact, true);
      };

      test('a rebuild replays the same chain, and a scratch rebuild equals the live table', async () => {
        await rebuild();
        const comparison = await compareWithRebuild(db.database, auditProjection, (untilSeq) => readDeliveries(bus, StreamName.Audit, { untilSeq, batchSize: 4 }));
        assert.equal(comparison.equal, true, JSON.stringify(comparison));
        assert.equal(comparison.tables[0]?.live.rows, original.length);
      });

      test('an edited row is named by verify, and the scratch comparison reports the difference', async () => {
        await tamper(db.database, `update audit_log set actor_id = 'mallory' where position = 3`);
        const report = await verifyAudit(bus, db.database);
        assert.equal(report.intact, false);
        assert.equal(report.break?.position, 3);
        assert.equal(report.break?.seq, original[2]?.seq);
        assert.match(report.break?.problem ?? '', /content does not match its hash/);
        assert.equal(report.break?.found, original[2]?.hash);
        const comparison = await compareWithRebuild(db.database, auditProjection, (untilSeq) => readDeliveries(bus, StreamName.Audit, { untilSeq }));
        assert.equal(comparison.equal, false);
        assert.equal(comparison.tables[0]?.live.rows, comparison.tables[0]?.rebuilt.rows);
        assert.notEqual(comparison.tables[0]?.live.checksum, comparison.tables[0]?.rebuilt.checksum);
        await rebuild();
      });

      test('rows put in another order are named by verify', async () => {
        await tamper(db.database, 'update audit_log set position = -1 where position = 4; update audit_log set position = 4 where position = 5; update audit_log set position = 5 where position = -1');
        const report = await verifyAudit(bus, db.database);
        assert.equal(report.break?.position, 4);
        await rebuild();
      });

      test('a deleted row is named by verify, in the middle and at the end', async () => {
        await tamper(db.database, 'delete from audit_log where position = 6');
        assert.equal((await verifyAudit(bus, db.database)).break?.position, 6);
        await rebuild();
        const last = original.length;
        await tamper(db.database, `delete from audit_log where position = ${last}`);
        const report = await verifyAudit(bus, db.database);
        assert.equal(report.break?.position, last);
        assert.match(report.break?.problem ?? '', /missing from the table/);
        await rebuild();
      });

      test('a chain recomputed by a forger after an edit is caught by the stream', async () => {
        // Rewrite row 2 and every hash after it, so the table alone is self-consistent.
        const { schema } = await import('@vigil/store');
        const { recordOfRow } = await import('../src/projection.ts');
        const { chainHash } = await import('../src/chain.ts');
        const rows = await db.database.db.select().from(schema.auditLog).orderBy(schema.auditLog.position);
        let prev = '0'.repeat(64);
        const statements: string[] = [];
        for (const row of rows) {
          const record = { ...recordOfRow(row), ...(row.position === 2 ? { actor: { kind: row.actorKind, id: 'mallory' } } : {}) };
          const hash = chainHash(prev, record);
          statements.push(`update audit_log set actor_id = '${record.actor.id}', prev_hash = '${prev}', hash = '${hash}' where position = ${row.position}`);
          prev = hash;
        }
        await tamper(db.database, statements.join('; '));
        const report = await verifyAudit(bus, db.database);
        assert.equal(report.break?.position, 2);
        assert.match(report.break?.problem ?? '', /differs from the stream/);
        await rebuild();
      });

      test('a duplicate further back than a rebuild remembers rolls the bulk rebuild back, and the projector rebuilds the same chain', async () => {
        // The first record's event stored again at the end of the stream, as a publish retried long after the
        // server's duplicate window would be: a chain records it once.
        const first = await bus.jsm.streams.getMessage(bus.names.stream(StreamName.Audit), { seq: 1 });
        assert.ok(first);
        await bus.js.publish(first.subject, first.data);
        const forgetful = { ...auditProjection, bulkRebuild: createAuditBulkRebuild(2) };
        let progressed = 0;
        const result = await rebuildProjection(bus, db.database, forgetful, { instance: `rebuild-${kind}`, onProgress: (seq) => (progressed = seq) });
        assert.equal(result.checkpoint, await auditLastSeq(bus));
        assert.equal(progressed, result.checkpoint);
        assert.deepEqual(await chainOf(db.database), original, 'the duplicate is not recorded twice');
        assert.equal((await verifyAudit(bus, db.database)).intact, true);
        // With its default memory the bulk rebuild sees the duplicate itself.
        await rebuild();
      });

      test('a rebuild while the projection is held by a running service is refused', async () => {
        service = await startService();
        await until('the projector to hold its lease', async () => (await service?.projections?.[0]?.lag())?.active === true);
        await assert.rejects(rebuildProjection(bus, db.database, auditProjection, { instance: 'intruder', leaseWaitMs: 500 }), /held by a running projector/);
        assert.deepEqual(await chainOf(db.database), original);
      });
    });
  });
}
