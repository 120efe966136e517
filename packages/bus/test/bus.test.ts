import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StorageType } from '@nats-io/jetstream';
import { startTestBus, type TestBus } from '@vigil/testkit';
import fc from 'fast-check';
import {
  AggregateCache,
  append,
  BadRequestError,
  ConcurrencyError,
  configDrift,
  createEvent,
  defineError,
  ensureStreams,
  handleCommand,
  InvalidEventError,
  loadAggregate,
  NoWorkerError,
  request,
  serve,
  startConsumer,
  StreamConfigError,
  streamConfig,
  streamDeclarations,
  type Decider,
  type Delivery,
  WorkerTimeoutError,
} from '../src/index.ts';
import { CounterIncremented, CounterReset, testRegistry } from './test-events.ts';
import type { EventOf } from '@vigil/schemas';

const actor = { kind: 'system', id: 'test' } as const;
let t: TestBus;

before(async () => {
  t = await startTestBus({ registry: testRegistry });
});
after(async () => {
  await t.close();
});

const increment = (by = 1) => createEvent(CounterIncremented, { by }, { actor });

describe('streams', () => {
  test('are created once and left alone when they match', async () => {
    const again = await ensureStreams(t.bus.jsm, t.bus.names, 1);
    assert.deepEqual(
      again.map((o) => o.action),
      streamDeclarations.map(() => 'unchanged'),
    );
    const audit = await t.bus.jsm.streams.info(t.bus.names.stream('AUDIT'));
    assert.equal(audit.config.deny_delete, true);
    assert.equal(audit.config.deny_purge, true);
  });

  test('a stream whose config drifted is updated back', async () => {
    const name = t.bus.names.stream('AUTH_EVENT');
    const info = await t.bus.jsm.streams.info(name);
    await t.bus.jsm.streams.update(name, { ...info.config, description: 'changed by hand' });
    const outcomes = await ensureStreams(t.bus.jsm, t.bus.names, 1);
    const auth = outcomes.find((o) => o.name === name);
    assert.equal(auth?.action, 'updated');
    assert.match(auth?.drift.join() ?? '', /description/);
    assert.equal((await t.bus.jsm.streams.info(name)).config.description, streamDeclarations.find((s) => s.name === 'AUTH_EVENT')?.description);
  });

  test('a drift the server cannot update fails the start and names the field', async () => {
    const declaration = streamDeclarations.find((s) => s.name === 'KEY_SUPPLY');
    assert.ok(declaration);
    const name = t.bus.names.stream('KEY_SUPPLY');
    const wanted = streamConfig(declaration, t.bus.names, 1);
    // Storage cannot change on a live stream: recreate it as memory storage, then ask for the declared file storage.
    await t.bus.jsm.streams.delete(name);
    await t.bus.jsm.streams.add({ ...wanted, storage: StorageType.Memory });
    await assert.rejects(ensureStreams(t.bus.jsm, t.bus.names, 1, [declaration]), (err: unknown) => {
      assert.ok(err instanceof StreamConfigError);
      assert.match(err.message, /storage/);
      return true;
    });
    await t.bus.jsm.streams.delete(name);
    await ensureStreams(t.bus.jsm, t.bus.names, 1, [declaration]);
  });

  test('configDrift compares only what Vigil declares, against what the server holds', async () => {
    for (const declaration of streamDeclarations) {
      const wanted = streamConfig(declaration, t.bus.names, 1);
      const actual = (await t.bus.jsm.streams.info(wanted.name)).config;
      assert.deepEqual(configDrift(wanted, actual), []);
      assert.deepEqual(configDrift(wanted, { ...actual, max_age: 1 }), [`max_age: 1 → ${wanted.max_age}`]);
    }
  });
});

describe('append', () => {
  test('with the wrong expected sequence fails with ConcurrencyError and leaves the stream unchanged', async () => {
    const subject = 'auth.acme.counter.c1';
    const first = await append(t.bus, subject, increment(), { expectedLastSubjectSequence: 0 });
    const before = await t.bus.jsm.streams.info(t.bus.names.stream('AUTH_EVENT'));
    await assert.rejects(append(t.bus, subject, increment(), { expectedLastSubjectSequence: 0 }), ConcurrencyError);
    await assert.rejects(append(t.bus, subject, increment(), { expectedLastSubjectSequence: first.seq - 1 }), ConcurrencyError);
    const afterInfo = await t.bus.jsm.streams.info(t.bus.names.stream('AUTH_EVENT'));
    assert.equal(afterInfo.state.messages, before.state.messages);
    const next = await append(t.bus, subject, increment(), { expectedLastSubjectSequence: first.seq });
    assert.ok(next.seq > first.seq);
  });

  test('a re-published event id is stored once', async () => {
    const subject = 'auth.acme.counter.dup';
    const event = increment();
    const one = await append(t.bus, subject, event);
    const two = await append(t.bus, subject, event);
    assert.equal(two.duplicate, true);
    assert.equal(two.seq, one.seq);
    const loaded = await loadAggregate(t.bus, subject);
    assert.equal(loaded.events.length, 1);
  });

  test('an invalid event never reaches the stream', async () => {
    const bad = { ...increment(), data: { by: -1 } };
    await assert.rejects(append(t.bus, 'auth.acme.counter.bad', bad), InvalidEventError);
    assert.equal((await loadAggregate(t.bus, 'auth.acme.counter.bad')).lastSequence, 0);
  });

  test('events carry the namespace on the wire but plain subjects in code', async () => {
    const { seq } = await append(t.bus, 'auth.acme.counter.ns', increment());
    const stored = await t.bus.jsm.streams.getMessage(t.bus.names.stream('AUTH_EVENT'), { seq });
    assert.equal(stored?.subject, `${t.bus.names.namespace}.auth.acme.counter.ns`);
  });
});

type Counter = { total: number };
type CounterEvent = EventOf<typeof CounterIncremented> | EventOf<typeof CounterReset>;
type CounterCommand = { kind: 'increment'; by: number; limit: number } | { kind: 'reset' };

const counter: Decider<CounterCommand, Counter, CounterEvent> = {
  events: [CounterIncremented, CounterReset],
  initialState: () => ({ total: 0 }),
  evolve: (state, event) => (event.type === 'test.counter.reset' ? { total: 0 } : { total: state.total + event.data.by }),
  decide: (command, state) => {
    if (command.kind === 'reset') return [{ type: 'test.counter.reset', v: 1, data: {} }];
    if (state.total + command.by > command.limit) throw new BadRequestError('limit reached');
    return [{ type: 'test.counter.incremented', v: 1, data: { by: command.by } }];
  },
};

describe('handleCommand', () => {
  test('given events, when a command, then the decided events are appended', async () => {
    const subject = 'auth.acme.counter.given';
    await append(t.bus, subject, increment(2));
    const result = await handleCommand(t.bus, { subject, decider: counter, command: { kind: 'increment', by: 3, limit: 10 }, meta: { actor } });
    assert.deepEqual(result.state, { total: 5 });
    const loaded = await loadAggregate(t.bus, subject);
    assert.deepEqual(
      loaded.events.map((e) => e.event.data),
      [{ by: 2 }, { by: 3 }],
    );
    assert.equal(loaded.lastSequence, result.seq);
  });

  test('concurrent commands never exceed a limit the decider enforces (races settled by the bus)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 8 }), async (writers, limit) => {
        const subject = `auth.acme.counter.race${Math.random().toString(36).slice(2)}`;
        const results = await Promise.allSettled(
          Array.from({ length: writers }, () =>
            handleCommand(t.bus, { subject, decider: counter, command: { kind: 'increment', by: 1, limit }, meta: { actor }, maxAttempts: 50 }),
          ),
        );
        const succeeded = results.filter((r) => r.status === 'fulfilled').length;
        const loaded = await loadAggregate(t.bus, subject);
        assert.equal(succeeded, Math.min(writers, limit));
        assert.equal(loaded.events.length, succeeded);
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof BadRequestError, String(r.reason));
      }),
      { numRuns: 8 },
    );
  });

  test('with aggregate caches (one per replica, each going stale), races are still settled by the bus', async () => {
    const subject = 'auth.acme.counter.cached';
    const caches = [new AggregateCache(t.bus, counter), new AggregateCache(t.bus, counter)];
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        handleCommand(t.bus, { subject, decider: counter, command: { kind: 'increment', by: 1, limit: 7 }, meta: { actor }, maxAttempts: 50, cache: caches[i % 2] }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 7);
    assert.equal((await loadAggregate(t.bus, subject)).events.length, 7);
    for (const cache of caches) assert.deepEqual((await cache.read(subject)).state, { total: 7 });
  });

  test('a stale cache decides nothing on its own: a refusal or a conflict on it is decided again on the stream’s state', async () => {
    const subject = 'auth.acme.counter.stale';
    const [a, b] = [new AggregateCache(t.bus, counter), new AggregateCache(t.bus, counter)];
    const inc = (cache: AggregateCache<CounterCommand, Counter, CounterEvent>, limit = 10) =>
      handleCommand(t.bus, { subject, decider: counter, command: { kind: 'increment', by: 5, limit }, meta: { actor }, cache });
    await inc(a);
    await inc(a);
    assert.deepEqual((await b.read(subject)).state, { total: 10 }, 'b caches a full counter');
    await handleCommand(t.bus, { subject, decider: counter, command: { kind: 'reset' }, meta: { actor }, cache: a });
    // b's cache says full, so its decision on it is a refusal: not trusted, decided again on the reset counter.
    assert.deepEqual((await inc(b)).state, { total: 5 });
    // a's cache is one event behind: its append expecting that sequence is refused and decided again, within the limit.
    await assert.rejects(inc(a, 9), BadRequestError);
    assert.deepEqual((await loadAggregate(t.bus, subject)).events.map((e) => e.event.type), [
      'test.counter.incremented',
      'test.counter.incremented',
      'test.counter.reset',
      'test.counter.incremented',
    ]);
  });

  test('loadAggregate catches a cached state up from a sequence', async () => {
    const subject = 'auth.acme.counter.catchup';
    const a = await append(t.bus, subject, increment(1));
    await append(t.bus, subject, increment(2));
    const rest = await loadAggregate(t.bus, subject, { afterSeq: a.seq });
    assert.deepEqual(
      rest.events.map((e) => e.event.data),
      [{ by: 2 }],
    );
  });

  test('loadAggregate reads short and long aggregates alike (direct gets, then a consumer), from any sequence', async () => {
    const subject = 'auth.acme.counter.long';
    const seqs: number[] = [];
    for (let by = 1; by <= 20; by++) {
      seqs.push((await append(t.bus, subject, increment(by))).seq);
      // Another aggregate's events in between: the reads must skip them.
      await append(t.bus, 'auth.acme.counter.neighbour', increment(by));
    }
    const last = seqs[seqs.length - 1];
    for (const [i, afterSeq] of [0, ...seqs].entries()) {
      const loaded = await loadAggregate(t.bus, subject, { afterSeq });
      assert.deepEqual(
        loaded.events.map((e) => e.seq),
        seqs.slice(i),
        `after ${afterSeq}`,
      );
      assert.deepEqual(
        loaded.events.map((e) => e.event.data),
        seqs.slice(i).map((_, k) => ({ by: i + k + 1 })),
      );
      assert.equal(loaded.lastSequence, last);
    }
  });

  // Slow by design (the direct get waits out its timeout): a stream configured by hand, not a state Vigil leaves.
  test('loadAggregate reads through a consumer where the stream answers no direct gets', async () => {
    const subject = 'auth.acme.counter.nodirect';
    for (let by = 1; by <= 3; by++) await append(t.bus, subject, increment(by));
    const stream = t.bus.names.stream('AUTH_EVENT');
    await t.bus.jsm.streams.update(stream, { allow_direct: false });
    try {
      const loaded = await loadAggregate(t.bus, subject);
      assert.deepEqual(
        loaded.events.map((e) => e.event.data),
        [{ by: 1 }, { by: 2 }, { by: 3 }],
      );
    } finally {
      await t.bus.jsm.streams.update(stream, { allow_direct: true });
    }
  });
});

const TeapotError = defineError('VGL_TEST_TEAPOT', 'I am a teapot: %s', 418);

describe('request/reply', () => {
  test('results and declared errors cross the bus; undeclared errors do not leak', async () => {
    const served = serve(t.bus, {
      subject: 'qry.test.echo',
      parse: (data) => {
        if (typeof data !== 'string') throw new BadRequestError('a string is wanted');
        return data;
      },
      handle: async ({ data, caller, correlationId }) => {
        if (data === 'teapot') throw new TeapotError('short and stout');
        if (data === 'crash') throw new Error('database password is hunter2');
        return { echo: data, tenant: caller?.tenant ?? null, correlationId };
      },
    });
    try {
      assert.deepEqual(
        await request(t.bus, 'qry.test.echo', 'hi', { timeoutMs: 2000, caller: { actor: { kind: 'user', id: 'u1' }, tenant: 'acme' } }).then((r) => {
          assert.ok(typeof r === 'object' && r !== null && 'echo' in r);
          return { echo: r.echo, tenant: 'tenant' in r ? r.tenant : undefined };
        }),
        { echo: 'hi', tenant: 'acme' },
      );
      await assert.rejects(request(t.bus, 'qry.test.echo', 'teapot', { timeoutMs: 2000 }), (err: unknown) => {
        assert.ok(err instanceof TeapotError);
        assert.equal(err.statusCode, 418);
        assert.match(err.message, /short and stout/);
        return true;
      });
      await assert.rejects(request(t.bus, 'qry.test.echo', 42, { timeoutMs: 2000 }), BadRequestError);
      await assert.rejects(request(t.bus, 'qry.test.echo', 'crash', { timeoutMs: 2000 }), (err: unknown) => {
        assert.ok(err instanceof Error && 'code' in err && err.code === 'VGL_INTERNAL');
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      });
    } finally {
      await served.stop();
    }
  });

  test('no worker on a subject is NoWorkerError', async () => {
    await assert.rejects(request(t.bus, 'cmd.nobody.home', {}, { timeoutMs: 1000 }), NoWorkerError);
  });

  test('a worker that does not answer in time is WorkerTimeoutError, naming the subject', async () => {
    const silent = t.bus.nc.subscribe(t.bus.names.subject('cmd.test.silent'), { callback: () => undefined });
    await t.bus.nc.flush();
    try {
      await assert.rejects(request(t.bus, 'cmd.test.silent', {}, { timeoutMs: 200 }), (err: unknown) => err instanceof WorkerTimeoutError && /cmd\.test\.silent/.test(err.message));
    } finally {
      silent.unsubscribe();
    }
  });
});

describe('durable consumers', () => {
  test('a message that fails validation is terminated and reported, and the consumer goes on', async () => {
    const seen: Delivery[] = [];
    const consumer = await startConsumer(
      t.bus,
      { stream: 'AUTH_EVENT', durable: 'poison_test', filterSubject: 'auth.poison.>' },
      async (d) => {
        seen.push(d);
      },
    );
    try {
      const good1 = await append(t.bus, 'auth.poison.counter.a', increment(1));
      // Published around the typed append, as a misbehaving producer would.
      const badAck = await t.bus.js.publish(t.bus.names.subject('auth.poison.counter.a'), new TextEncoder().encode('{"not":"an event"}'));
      const good2 = await append(t.bus, 'auth.poison.counter.a', increment(2));
      await waitFor(() => seen.length >= 2);
      assert.deepEqual(
        seen.map((d) => d.seq),
        [good1.seq, good2.seq],
      );
      const reports = await waitForReports(badAck.seq);
      assert.equal(reports.length, 1);
      assert.equal(reports[0]?.reason, 'malformed');
      assert.equal(reports[0]?.consumer, 'poison_test');
    } finally {
      await consumer.stop();
    }
  });

  test('a handler that keeps failing is retried, then terminated and reported once', async () => {
    let attempts = 0;
    const consumer = await startConsumer(
      t.bus,
      { stream: 'AUTH_EVENT', durable: 'failing_test', filterSubject: 'auth.failing.>', maxDeliver: 3, backoffMs: [20] },
      async () => {
        attempts++;
        throw new Error('always');
      },
    );
    try {
      const { seq } = await append(t.bus, 'auth.failing.counter.a', increment(1));
      const reports = await waitForReports(seq);
      assert.equal(reports[0]?.reason, 'max_deliveries');
      assert.equal(attempts, 3);
    } finally {
      await consumer.stop();
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function waitForReports(streamSeq: number): Promise<{ reason: string; consumer: string }[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const loaded = await loadAggregate(t.bus, 'audit._platform.system');
    const found = loaded.events
      .map((e) => e.event.data)
      .filter((d): d is { reason: string; consumer: string; stream_seq: number } => typeof d === 'object' && d !== null && 'stream_seq' in d && d.stream_seq === streamSeq);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}
