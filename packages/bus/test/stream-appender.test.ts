// StreamAppender against a real JetStream: appends in flight land in order, an event id is stored once, a subject
// no stream holds is refused, and an append nobody acknowledges times out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestBus, type TestBus } from '@vigil/testkit';
import { AppendRefusedError, AppendTimeoutError, createEvent, loadAggregate, StreamAppender } from '../src/index.ts';
import { CounterIncremented, testRegistry } from './test-events.ts';

let t: TestBus;
let appender: StreamAppender;
const actor = { kind: 'system', id: 'test' } as const;

before(async () => {
  t = await startTestBus({ registry: testRegistry });
  appender = new StreamAppender(t.bus);
});
after(async () => {
  await appender.close();
  await t.close();
});

test('many appends in flight reach the stream in the order they were made', async () => {
  const events = Array.from({ length: 500 }, (_, i) => createEvent(CounterIncremented, { by: i + 1 }, { actor }));
  const appended = await Promise.all(events.map((e) => appender.append('auth.appender.order', e)));
  assert.deepEqual(
    appended.map((a) => a.seq),
    [...appended.map((a) => a.seq)].sort((a, b) => a - b),
  );
  const stored = await loadAggregate(t.bus, 'auth.appender.order');
  assert.deepEqual(
    stored.events.map((e) => e.event.id),
    events.map((e) => e.id),
  );
  assert.equal(appender.pending, 0);
});

test('the same event appended twice is stored once, the second answer says so', async () => {
  const event = createEvent(CounterIncremented, { by: 1 }, { actor });
  const first = await appender.append('auth.appender.twice', event);
  const second = await appender.append('auth.appender.twice', event);
  assert.equal(first.duplicate, false);
  assert.deepEqual(second, { ...first, duplicate: true });
  assert.equal((await loadAggregate(t.bus, 'auth.appender.twice')).events.length, 1);
});

test('a subject no stream holds is refused; an append left unanswered times out', async () => {
  const event = createEvent(CounterIncremented, { by: 1 }, { actor });
  await assert.rejects(appender.append('nostream.appender', event), (err) => err instanceof AppendRefusedError && err.code === 503);
  // A subscriber that never answers, on a subject outside every stream, stands in for a stream whose answer was lost.
  const silent = t.bus.nc.subscribe(t.bus.names.subject('silent.appender'));
  const quick = new StreamAppender(t.bus, { timeoutMs: 300 });
  try {
    await assert.rejects(quick.append('silent.appender', event), (err) => err instanceof AppendTimeoutError);
    assert.equal(quick.pending, 0);
  } finally {
    silent.unsubscribe();
    await quick.close();
  }
});

test('appends expecting the same last sequence, published together: the stream stores exactly one', async () => {
  const events = Array.from({ length: 10 }, (_, i) => createEvent(CounterIncremented, { by: i + 1 }, { actor }));
  // Made in one turn of the event loop, so they leave in one write: the stream still judges each against the last.
  const outcomes = await Promise.allSettled(events.map((e) => appender.append('auth.appender.race', e, { expectedLastSubjectSequence: 0 })));
  const stored = outcomes.filter((o) => o.status === 'fulfilled');
  const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
  assert.equal(stored.length, 1);
  assert.equal(refused.length, 9);
  assert.ok(refused.every((err) => err instanceof AppendRefusedError && err.code === 10071));
  assert.equal((await loadAggregate(t.bus, 'auth.appender.race')).events.length, 1);
});
