// The edge's API key feed on real NATS (the test plays the identity worker by appending its events), and the per-key
// rate limit and last-use throttle with a clock of the test's own.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, createEvent, type Bus } from '@vigil/bus';
import { randomToken, sha256Hex, uuidv7 } from '@vigil/crypto';
import { ApiKeyLastUse, ApiKeyViewBehindError } from '@vigil/identity-contract';
import { ApiKeyCreated, ApiKeyRevoked } from '@vigil/schemas';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { ApiKeyDirectory, type ApiKeyLookupOutcome } from '../src/identity/api-key-directory.ts';
import { LastUseRecorder } from '../src/identity/api-key-last-use.ts';
import { PrincipalRateLimiter } from '../src/identity/principal-rate-limiter.ts';

let testBus: TestBus;
let edgeBus: Bus;
const logger = testLogger('edge');
const actor = { kind: 'user', id: '01890a5d-ac96-774b-bcce-b302099a8057' } as const;

before(async () => {
  testBus = await startTestBus();
  edgeBus = await testBus.connect('edge');
});
after(async () => {
  await testBus.close();
});

/** Appends a key's creation as the identity worker would; returns the key as its maker was shown it. */
async function makeKey(tenant: string, expiresAt: number, permissions = ['devices:read']): Promise<{ id: string; key: string }> {
  const id = uuidv7();
  const key = `vgl_${id}_${randomToken()}`;
  const data = { key_id: id, user_id: actor.id, name: 'test', permissions, expires_at: new Date(expiresAt).toISOString(), rate_limit_per_minute: 7, secret_sha256: sha256Hex(key) };
  await append(testBus.bus, `auth.${tenant}.apikey.${id}`, createEvent(ApiKeyCreated, data, { actor, tenant }));
  return { id, key };
}

/** Waits for a condition; the bound only keeps a broken build from hanging (nothing here measures speed). */
async function eventually(check: () => boolean, ms = 15_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('API key directory', () => {
  test('keys stored before the edge starts are known when its start resolves', async () => {
    const stored = await makeKey('acme', Date.now() + 60_000);
    const directory = new ApiKeyDirectory({ bus: edgeBus, logger });
    // Resolves when caught up; the bound is only a start-up's patience, generous here for a busy machine.
    await directory.start(30_000);
    try {
      const principal = directory.authenticate(stored.key);
      assert.equal(principal?.kind, 'api_key');
      assert.equal(principal?.tenant, 'acme', 'the tenant comes from the key’s subject');
      assert.equal(principal?.userId, actor.id);
      assert.equal(principal?.ratePerMinute, 7);
      assert.deepEqual([...(principal?.permissions ?? [])], ['devices:read']);
    } finally {
      await directory.stop();
    }
  });

  test('a new key is known from its event; a wrong secret, an expired key and a revoked key are refused', async () => {
    const directory = new ApiKeyDirectory({ bus: edgeBus, logger });
    await directory.start();
    try {
      const now = Date.now();
      const { id, key } = await makeKey('acme', now + 60_000);
      assert.equal(await directory.waitFor(id, 15_000), true);
      assert.ok(directory.authenticate(key, now));
      const last = key.at(-1) === 'A' ? 'B' : 'A';
      assert.equal(directory.authenticate(`${key.slice(0, -1)}${last}`, now), undefined, 'one character off');
      assert.equal(directory.authenticate(key.replace(id, uuidv7()), now), undefined, 'another id with the same secret');
      assert.equal(directory.authenticate(key, now + 60_000), undefined, 'expired at its expires_at');
      await append(testBus.bus, `auth.acme.apikey.${id}`, createEvent(ApiKeyRevoked, { reason: 'owner' }, { actor, tenant: 'acme' }));
      await eventually(() => directory.authenticate(key, now) === undefined);
      assert.equal(await directory.waitFor(uuidv7(), 20), false, 'a key that never comes');
    } finally {
      await directory.stop();
    }
  });
});

/**
 * Counts the stream reads (`STREAM.MSG.GET`) of AUTH_EVENT that directories make from now on: their lookups. A copy
 * of a request may reach this tap after the request's answer reached the directory (the server delivers them
 * separately), so `settled` waits for the count expected, then for anything else already on its way.
 */
/** What a directory reported of its lookups, tallied by outcome, for `onLookup`. */
function outcomeTally(): { onLookup: (outcome: ApiKeyLookupOutcome) => void; counts: Partial<Record<ApiKeyLookupOutcome, number>> } {
  const counts: Partial<Record<ApiKeyLookupOutcome, number>> = {};
  return { counts, onLookup: (outcome) => (counts[outcome] = (counts[outcome] ?? 0) + 1) };
}

async function countLookups(): Promise<{ count: () => number; settled: (expected: number) => Promise<void>; stop: () => void }> {
  let n = 0;
  const tap = testBus.bus.nc.subscribe(`$JS.API.STREAM.MSG.GET.${testBus.bus.names.stream('AUTH_EVENT')}`, {
    callback: () => {
      n++;
    },
  });
  await testBus.bus.nc.flush();
  return {
    count: () => n,
    settled: async (expected) => {
      await eventually(() => n >= expected);
      await edgeBus.nc.flush();
      await testBus.bus.nc.flush();
    },
    stop: () => tap.unsubscribe(),
  };
}

describe('API keys an edge has not seen yet', () => {
  test('a key made a moment ago is looked up while the view is still reading: accepted once the view holds it, a revoked one not', async () => {
    // Enough keys before them that a view started without waiting is still reading when they are asked for.
    for (let i = 0; i < 40; i++) await Promise.all(Array.from({ length: 50 }, () => makeKey('crowd', Date.now() + 60_000)));
    const fresh = await makeKey('acme', Date.now() + 60_000);
    const revoked = await makeKey('acme', Date.now() + 60_000);
    await append(testBus.bus, `auth.acme.apikey.${revoked.id}`, createEvent(ApiKeyRevoked, { reason: 'owner' }, { actor, tenant: 'acme' }));
    const tally = outcomeTally();
    const directory = new ApiKeyDirectory({ bus: edgeBus, logger, lookup: { timeoutMs: 30_000 }, onLookup: tally.onLookup });
    await directory.start(0);
    try {
      assert.equal(directory.authenticate(fresh.key), undefined, 'the view has not reached it yet');
      const principal = await directory.learn(fresh.key);
      assert.equal(principal?.tenant, 'acme');
      assert.equal(principal?.apiKeyId, fresh.id);
      assert.equal(await directory.learn(revoked.key), undefined, 'its revocation is read too');
      const wrong = `${fresh.key.slice(0, -1)}${fresh.key.at(-1) === 'A' ? 'B' : 'A'}`;
      assert.equal(await directory.learn(wrong), undefined, 'a wrong secret of a key it holds');
      assert.deepEqual(tally.counts, { found: 1, absent: 1 }, 'the wrong secret of a key held costs no lookup');
    } finally {
      await directory.stop();
    }
  });

  test('made-up ids cost at most one read each, only when recent, at most maxLookups at once; old ones none', async () => {
    const tally = outcomeTally();
    const directory = new ApiKeyDirectory({ bus: edgeBus, logger, lookup: { maxLookups: 2 }, onLookup: tally.onLookup });
    await directory.start(30_000);
    const lookups = await countLookups();
    try {
      // The time is written into a fresh id by hand: uuidv7(at) keeps this process's ids increasing, so a past `at`
      // would not give a past id, and a future one would move every later id ahead.
      const madeUp = (at = Date.now()) => {
        const hex = at.toString(16).padStart(12, '0');
        return `vgl_${hex.slice(0, 8)}-${hex.slice(8)}${uuidv7().slice(13)}_${randomToken()}`;
      };
      const recent = madeUp();
      assert.equal(await directory.learn(recent), undefined);
      assert.equal(await directory.learn(recent), undefined, 'asked again');
      assert.equal(await directory.learn(madeUp(Date.now() - 60 * 60_000)), undefined, 'an hour old');
      assert.equal(await directory.learn(madeUp(Date.now() + 60 * 60_000)), undefined, 'an hour ahead');
      await lookups.settled(1);
      assert.equal(lookups.count(), 1, 'one read for the recent id, none again, none for the others');
      assert.deepEqual(tally.counts, { absent: 1, known_absent: 1, not_recent: 2 });
      const flood = await Promise.all(Array.from({ length: 10 }, () => directory.learn(madeUp())));
      assert.deepEqual(flood, Array.from({ length: 10 }, () => undefined));
      await lookups.settled(3);
      assert.equal(lookups.count(), 3, 'ten at once: two read, the rest refused without a read');
      assert.deepEqual(tally.counts, { absent: 3, known_absent: 1, not_recent: 2, busy: 8 });
    } finally {
      lookups.stop();
      await directory.stop();
    }
  });

  test('a view that cannot get to the key, or an edge without the bus, answers 503 rather than refuse a real key', async () => {
    const { key } = await makeKey('acme', Date.now() + 60_000);
    const tally = outcomeTally();
    // Not started, it follows nothing: it cannot reach the key.
    await assert.rejects(new ApiKeyDirectory({ bus: edgeBus, logger, lookup: { timeoutMs: 100 }, onLookup: tally.onLookup }).learn(key), ApiKeyViewBehindError);
    const goneBus = await testBus.connect('edge-gone');
    await goneBus.nc.close();
    await assert.rejects(new ApiKeyDirectory({ bus: goneBus, logger, onLookup: tally.onLookup }).learn(key), ApiKeyViewBehindError);
    assert.deepEqual(tally.counts, { behind: 2 });
  });
});

describe('API key rate limit', () => {
  test('the limit at once, then one request every 60/limit seconds; Retry-After says when the next one is allowed', () => {
    const limiter = new PrincipalRateLimiter();
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) assert.deepEqual(limiter.take('k', 3, t0), { ok: true });
    assert.deepEqual(limiter.take('k', 3, t0), { ok: false, retryAfterSeconds: 20 });
    assert.deepEqual(limiter.take('k', 3, t0 + 15_000), { ok: false, retryAfterSeconds: 5 });
    assert.deepEqual(limiter.take('k', 3, t0 + 20_000), { ok: true });
    assert.deepEqual(limiter.take('other', 3, t0), { ok: true }, 'each key has its own budget');
    limiter.sweep(t0 + 80_000);
    assert.equal(limiter.size(), 0, 'idle buckets are forgotten');
  });
});

describe('API key last use', () => {
  test('written at the first use, then at most once a minute per key, into the bucket the worker reads', async () => {
    const recorder = new LastUseRecorder(edgeBus, logger);
    const t0 = Date.parse('2026-05-01T10:00:00Z');
    assert.equal(recorder.touch('acme', 'k1', t0), true);
    assert.equal(recorder.touch('acme', 'k1', t0 + 59_999), false);
    assert.equal(recorder.touch('acme', 'k2', t0 + 1), true, 'another key');
    assert.equal(recorder.touch('acme', 'k1', t0 + 60_000), true);
    const bucket = await ApiKeyLastUse.open(testBus.bus);
    let seen: string | undefined;
    await eventually(() => {
      void bucket.lastUsed('acme', 'k1').then((v) => (seen = v));
      return seen === new Date(t0 + 60_000).toISOString();
    });
  });
});
