import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import Type from 'typebox';
import { defineEvent, EventRegistry, jsonSchemaFiles, MessageRejected, StreamName, vigilEvents } from '../src/index.ts';

const jsonDir = join(import.meta.dirname, '..', 'json');

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

test('the committed JSON Schema files match the declarations (run pnpm schemas:generate)', () => {
  const wanted = jsonSchemaFiles(vigilEvents);
  const present = listFiles(jsonDir).map((f) => relative(jsonDir, f));
  assert.deepEqual(present.sort(), [...wanted.keys()].sort());
  for (const [path, text] of wanted) assert.equal(readFileSync(join(jsonDir, path), 'utf8'), text, `${path} drifted`);
});

const good = {
  id: '01890a5d-ac96-774b-bcce-b302099a8057',
  type: 'audit.message.rejected',
  v: 1,
  at: '2026-11-22T10:00:00.000Z',
  actor: { kind: 'service', id: 'x' },
  correlation_id: 'c',
  data: { category: 'system', severity: 'warning', consumer: 'c', stream: 'AUDIT', stream_seq: 1, subject: 'audit.x.system', reason: 'malformed', problems: [] },
};

test('the registry accepts a valid event and says why it refuses others', () => {
  assert.equal(vigilEvents.validate(good).ok, true);
  const cases: [unknown, string][] = [
    ['not an object', 'malformed'],
    [{ ...good, id: 'not-a-uuid' }, 'malformed'],
    [{ ...good, extra: 1 }, 'malformed'],
    [{ ...good, type: 'nobody.knows.this' }, 'unknown_type'],
    [{ ...good, v: 2 }, 'unknown_type'],
    [{ ...good, data: { ...good.data, stream_seq: 0 } }, 'invalid'],
    [{ ...good, data: { ...good.data, payload: 'secret' } }, 'invalid'],
  ];
  for (const [value, reason] of cases) {
    const r = vigilEvents.validate(value);
    assert.equal(r.ok, false, JSON.stringify(value));
    if (!r.ok) {
      assert.equal(r.reason, reason, JSON.stringify(value));
      assert.ok(r.problems.length > 0);
    }
  }
});

test('one check where one is enough gives the verdicts of two, even for a definition the envelope refuses', () => {
  // A type the envelope's pattern refuses: its own schema alone would accept the event.
  const Shouting = defineEvent(StreamName.Audit, 'Test.Thing.Shouted', 1, Type.Object({}));
  const event = { ...good, type: 'Test.Thing.Shouted', data: {} };
  assert.equal(Shouting.is(event), true);
  const r = vigilEvents.with([Shouting]).validate(event);
  assert.equal(r.ok, false);
  assert.equal(r.ok ? undefined : r.reason, 'malformed');
  const valid = vigilEvents.validate(good);
  assert.equal(valid.ok && valid.definition, MessageRejected);
});

test('an event declared twice is refused', () => {
  assert.throws(() => new EventRegistry([MessageRejected, MessageRejected]), /declared twice/);
});

test('a definition is its own type guard and validator', () => {
  const Pinged = defineEvent(StreamName.Audit, 'test.thing.pinged', 1, Type.Object({ n: Type.Integer() }));
  const event = { ...good, type: 'test.thing.pinged', data: { n: 1 } };
  assert.equal(Pinged.is(event), true);
  assert.deepEqual(Pinged.problems(event), []);
  assert.ok(Pinged.problems({ ...event, data: { n: 'one' } }).length > 0);
});
