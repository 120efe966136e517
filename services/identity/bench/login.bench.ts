// Sign-ins per second (TOTP off) through the bus and the identity worker, against the argon2id verifications per
// second of this machine in the same run (the ceiling: a sign-in is one verification plus a few appends), and against
// the floor of the shape (a bus request answered after a bare verification); refreshes per second against a bare NATS
// request/reply round trip.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '@vigil/bus';
import { loadConfig } from '@vigil/config';
import { createKekFile, hashPassword, loadKekRing, verifyPassword } from '@vigil/crypto';
import { identitySubjects, parseLoginResult, parseTokenPair } from '@vigil/identity-contract';
import { cpuSecondsOf, emitBenchLine, natsServerPid, pipelined, startTestBus, testLogger } from '@vigil/testkit';
import { createSigningKeysFile, IdentityWorker, identityPolicy, loadSigningKeys } from '../src/index.ts';

const logins = Number(process.env['BENCH_LOGINS'] ?? 400);
const refreshes = Number(process.env['BENCH_REFRESHES'] ?? 4000);
const users = Math.max(1, Math.ceil(logins / 4));
const window = 16;
const password = 'a benchmark pass phrase';

const emit = emitBenchLine;

/**
 * The CPU seconds so far of this process's main thread, of its other threads (argon2id runs on libuv's pool; V8's
 * collector has its own) and of nats-server: around each phase, they say what a sign-in costs beside its verification.
 */
function cpuNow(natsPid: number | undefined): { main: number; others: number; nats: number } | undefined {
  const all = cpuSecondsOf(process.pid);
  const main = cpuSecondsOf(process.pid, process.pid);
  const nats = cpuSecondsOf(natsPid);
  return all === undefined || main === undefined || nats === undefined ? undefined : { main, others: all - main, nats };
}

/** Milliseconds of CPU per operation between two readings of cpuNow, rounded to 0.01. */
function perOperation(before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>, operations: number) {
  if (!before || !after) return null;
  const ms = (a: number, b: number) => Math.round(((b - a) / operations) * 100_000) / 100;
  return { main_thread: ms(before.main, after.main), other_threads: ms(before.others, after.others), nats_server: ms(before.nats, after.nats) };
}

const t = await startTestBus();
const dir = mkdtempSync(join(tmpdir(), 'identity-bench-'));
createKekFile(join(dir, 'kek.json'));
createSigningKeysFile(join(dir, 'keys.json'));
const config = loadConfig({ VIGIL_NAMESPACE: t.bus.names.namespace });
const workerBus = await t.connect('identity');
const worker = new IdentityWorker({ bus: workerBus, ring: loadKekRing(join(dir, 'kek.json')), keys: loadSigningKeys(join(dir, 'keys.json')), policy: identityPolicy(config), logger: testLogger('identity') });
try {
  await worker.start();
  await worker.createTenant({ tenant_id: 'bench', name: 'Bench', max_users: users + 10, owner: { username: 'owner', email: 'owner@bench.example', password } });
  for (let i = 0; i < users; i += window) {
    await Promise.all(Array.from({ length: Math.min(window, users - i) }, (_, j) => worker.createUser('bench', { username: `user${i + j}`, email: `u${i + j}@bench.example`, password, roles: ['viewer'] })));
  }

  // Each user signs in 4 times, under the default limit of 5 sessions: no sign-in here ends another session.
  const phc = await hashPassword(password);
  const natsPid = natsServerPid(t.nats.url);
  const beforeHashes = cpuNow(natsPid);
  const hashRate = await pipelined(logins, window, () => verifyPassword(phc, password));
  const beforeLogins = cpuNow(natsPid);
  const refreshTokens: string[] = [];
  const loginRate = await pipelined(logins, window, async (i) => {
    const r = await request(t.bus, identitySubjects.login, { tenant: 'bench', username: `user${i % users}`, password }, { timeoutMs: 30_000, parse: parseLoginResult });
    if (r.status !== 'authenticated') throw new Error('expected tokens');
    refreshTokens[i] = r.refresh_token;
  });
  const afterLogins = cpuNow(natsPid);
  emit({
    bench: 'identity.login',
    unit: 'logins/s',
    value: +loginRate.toFixed(1),
    baseline: 'argon2id.verify (m=19456,t=2,p=1)',
    baseline_value: +hashRate.toFixed(1),
    ratio: +(loginRate / hashRate).toFixed(3),
    logins,
    concurrency: window,
    // Where the CPU went (Linux): per verification of the baseline, per sign-in; null elsewhere.
    cpu_ms_per_verification: perOperation(beforeHashes, beforeLogins, logins),
    cpu_ms_per_login: perOperation(beforeLogins, afterLogins, logins),
  });

  // The floor of this shape: a bus request whose worker verifies the password and answers, storing nothing. What a
  // sign-in costs beyond it is what it stores (three appends, in two steps), the JWT and the directory that follows it.
  const verifying = workerBus.nc.subscribe(workerBus.names.subject('bench.verify'), {
    callback: (_e, m) => {
      void verifyPassword(phc, password).then(() => m.respond(m.data));
    },
  });
  await workerBus.nc.flush();
  const signIn = new TextEncoder().encode(JSON.stringify({ data: { tenant: 'bench', username: 'user0', password } }));
  const floorRate = await pipelined(logins, window, () => t.bus.nc.request(t.bus.names.subject('bench.verify'), signIn, { timeout: 30_000 }));
  verifying.unsubscribe();
  emit({ bench: 'identity.login_floor', unit: 'requests/s', value: +floorRate.toFixed(1), baseline: 'argon2id.verify (m=19456,t=2,p=1)', baseline_value: +hashRate.toFixed(1), ratio: +(floorRate / hashRate).toFixed(3), requests: logins, concurrency: window });

  const echo = workerBus.nc.subscribe(workerBus.names.subject('bench.echo'), {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  // The subscription must reach the server before the first request, or that request finds no responder.
  await workerBus.nc.flush();
  const payload = new TextEncoder().encode(JSON.stringify({ data: { refresh_token: refreshTokens[0] } }));
  const roundTrip = await pipelined(refreshes, window, () => t.bus.nc.request(t.bus.names.subject('bench.echo'), payload, { timeout: 5000 }));
  echo.unsubscribe();
  // Sessions side by side, each refreshed `perSession` times in turn (a rotation needs the previous token); a session's
  // events are read back on every refresh, so its length matters: 10 is under an hour of 5-minute access tokens.
  const perSession = Math.max(1, Math.floor(refreshes / refreshTokens.length));
  const sessionRate = await pipelined(refreshTokens.length, window, async (i) => {
    let current = refreshTokens[i] ?? '';
    for (let k = 0; k < perSession; k++) {
      current = (await request(t.bus, identitySubjects.refresh, { refresh_token: current }, { timeoutMs: 30_000, parse: parseTokenPair })).refresh_token;
    }
  });
  const refreshRate = sessionRate * perSession;
  emit({ bench: 'identity.refresh', unit: 'refreshes/s', value: Math.round(refreshRate), baseline: 'nats.request (echo)', baseline_value: Math.round(roundTrip), ratio: +(refreshRate / roundTrip).toFixed(3), refreshes: perSession * refreshTokens.length, per_session: perSession, concurrency: window });
} finally {
  await worker.stop();
  await t.close();
}
