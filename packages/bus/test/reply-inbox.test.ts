// ReplyInbox on a real NATS: each message gets its own answer however they interleave, deadlines of different
// lengths each fire, never early, with one timer, a late answer is dropped, no responders come back as the 503 status, and
// closing fails what still waits.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestBus, type TestBus } from '@vigil/testkit';
import { ReplyInbox, ReplyInboxClosedError, ReplyTimeoutError } from '../src/reply-inbox.ts';

let t: TestBus;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

before(async () => {
  t = await startTestBus();
});
after(async () => {
  await t.close();
});

test('answers find their askers, whatever order they come back in', async () => {
  const subject = t.bus.names.subject('inbox.shuffle');
  const held: { respond: (data: Uint8Array) => boolean; data: Uint8Array }[] = [];
  const sub = t.bus.nc.subscribe(subject, {
    callback: (_err, m) => {
      held.push(m);
      // Answered backwards, once all have come.
      if (held.length === 50) for (const h of held.reverse()) h.respond(h.data);
    },
  });
  await t.bus.nc.flush();
  const inbox = new ReplyInbox(t.bus.nc);
  try {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => inbox.ask(subject, encoder.encode(String(i)), { timeoutMs: 10_000 })));
    assert.deepEqual(
      answers.map((m) => decoder.decode(m.data)),
      Array.from({ length: 50 }, (_, i) => String(i)),
    );
    assert.equal(inbox.pending, 0);
  } finally {
    sub.unsubscribe();
    inbox.close();
  }
});

test('deadlines of different lengths each fail on their own time; an answer after its deadline is dropped', async () => {
  const subject = t.bus.names.subject('inbox.silent');
  const late: { respond: (data: Uint8Array) => boolean }[] = [];
  const sub = t.bus.nc.subscribe(subject, { callback: (_err, m) => void late.push(m) });
  await t.bus.nc.flush();
  const inbox = new ReplyInbox(t.bus.nc);
  try {
    const started = Date.now();
    const failedAt = (timeoutMs: number) =>
      inbox.ask(subject, encoder.encode('x'), { timeoutMs }).then(
        () => assert.fail('no answer was given'),
        (err: unknown) => {
          assert.ok(err instanceof ReplyTimeoutError);
          return Date.now() - started;
        },
      );
    // The longest first, so the one timer has to move to earlier deadlines as they come; none may fire early.
    const [long, short, middle] = await Promise.all([failedAt(900), failedAt(150), failedAt(400)]);
    assert.ok(short !== undefined && middle !== undefined && long !== undefined);
    assert.ok(short >= 150 && middle >= 400 && long >= 900, `${short}, ${middle}, ${long}`);
    assert.equal(inbox.pending, 0);
    for (const m of late) m.respond(encoder.encode('too late'));
    await t.bus.nc.flush();
    assert.equal(inbox.pending, 0);
  } finally {
    sub.unsubscribe();
    inbox.close();
  }
});

test('no one on the subject: the answer is the server’s 503 status; a closed inbox fails what waits and refuses more', async () => {
  const inbox = new ReplyInbox(t.bus.nc);
  const answer = await inbox.ask(t.bus.names.subject('inbox.nobody'), encoder.encode('x'), { timeoutMs: 10_000 });
  assert.equal(answer.headers?.code, 503);

  const subject = t.bus.names.subject('inbox.never');
  const sub = t.bus.nc.subscribe(subject, { callback: () => {} });
  await t.bus.nc.flush();
  const waiting = inbox.ask(subject, encoder.encode('x'), { timeoutMs: 10_000 });
  inbox.close();
  await assert.rejects(waiting, ReplyInboxClosedError);
  await assert.rejects(inbox.ask(subject, encoder.encode('x'), { timeoutMs: 10_000 }), ReplyInboxClosedError);
  sub.unsubscribe();
});
