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
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 4);
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

type CpuSpent = NonNullable<ReturnType<typeof cpuNow>>;

const zeroCpu = (): CpuSpent => ({ main: 0, others: 0, nats: 0 });

/** `sum` plus the CPU between two readings of cpuNow; undefined once a reading is missing (not Linux). */
function addCpu(sum: CpuSpent | undefined, before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>): CpuSpent | undefined {
  if (!sum || !before || !after) return undefined;
  return { main: sum.main + after.main - before.main, others: sum.others + after.others - before.others, nats: sum.nats + after.nats - before.nats };
}

/** Milliseconds of CPU per operation, rounded to 0.01. */
function perOperation(spent: CpuSpent | undefined, operations: number) {
  if (!spent) return null;
  const ms = (seconds: number) => Math.round((seconds / operations) * 100_000) / 100;
  return { main_thread: ms(spent.main), other_threads: ms(spent.others), nats_server: ms(spent.nats) };
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

  // The floor of this shape: a bus request whose worker verifies the password and answers, storing nothing. What a
  // sign-in costs beyond it is what it stores (three appends, in two steps), the JWT and the directory that follows it.
  const phc = await hashPassword(password);
  const verifying = workerBus.nc.subscribe(workerBus.names.subject('bench.verify'), {
    callback: (_e, m) => {
      void verifyPassword(phc, password).then(() => m.respond(m.data));
    },
  });
  await workerBus.nc.flush();
  const signIn = new TextEncoder().encode(JSON.stringify({ data: { tenant: 'bench', username: 'user0', password } }));

  // The three are measured in rounds, one after the other in each: this machine's speed drifts by more than the
  // differences measured (a phase after another ran up to 15% apart in one run), and a drift now spreads over all
  // three instead of favouring whichever ran first. Each user signs in 4 times in all, under the default limit of 5
  // sessions: no sign-in here ends another session.
  const natsPid = natsServerPid(t.nats.url);
  const perRound = Math.ceil(logins / rounds);
  const spent = { hashes: 0, logins: 0, floor: 0 };
  let cpuHashes: CpuSpent | undefined = zeroCpu();
  let cpuLogins: CpuSpent | undefined = zeroCpu();
  const refreshTokens: string[] = [];
  let signedIn = 0;
  for (let round = 0; round < rounds; round++) {
    const first = signedIn;
    const count = Math.min(perRound, logins - first);
    if (count <= 0) break;
    const beforeHashes = cpuNow(natsPid);
    spent.hashes += count / (await pipelined(count, window, () => verifyPassword(phc, password)));
    const beforeLogins = cpuNow(natsPid);
    spent.logins +=
      count /
      (await pipelined(count, window, async (k) => {
        const i = first + k;
        const r = await request(t.bus, identitySubjects.login, { tenant: 'bench', username: `user${i % users}`, password }, { timeoutMs: 30_000, parse: parseLoginResult });
        if (r.status !== 'authenticated') throw new Error('expected tokens');
        refreshTokens[i] = r.refresh_token;
      }));
    const afterLogins = cpuNow(natsPid);
    spent.floor += count / (await pipelined(count, window, () => t.bus.nc.request(t.bus.names.subject('bench.verify'), signIn, { timeout: 30_000 })));
    cpuHashes = addCpu(cpuHashes, beforeHashes, beforeLogins);
    cpuLogins = addCpu(cpuLogins, beforeLogins, afterLogins);
    signedIn += count;
  }
  verifying.unsubscribe();
  const hashRate = signedIn / spent.hashes;
  const loginRate = signedIn / spent.logins;
  const floorRate = signedIn / spent.floor;
  emit({
    bench: 'identity.login',
    unit: 'logins/s',
    value: +loginRate.toFixed(1),
    baseline: 'argon2id.verify (m=19456,t=2,p=1)',
    baseline_value: +hashRate.toFixed(1),
    ratio: +(loginRate / hashRate).toFixed(3),
    logins: signedIn,
    rounds,
    concurrency: window,
    // Where the CPU went (Linux): per verification of the baseline, per sign-in; null elsewhere.
    cpu_ms_per_verification: perOperation(cpuHashes, signedIn),
    cpu_ms_per_login: perOperation(cpuLogins, signedIn),
  });
  emit({ bench: 'identity.login_floor', unit: 'requests/s', value: +floorRate.toFixed(1), baseline: 'argon2id.verify (m=19456,t=2,p=1)', baseline_value: +hashRate.toFixed(1), ratio: +(floorRate / hashRate).toFixed(3), requests: signedIn, rounds, concurrency: window });

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
