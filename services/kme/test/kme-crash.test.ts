// Kill -9 a KME worker in the middle of a load of enc_keys: callers see errors or keys, never a key twice, and the
// pool's accounting afterwards matches what was allocated.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAggregate, request } from '@vigil/bus';
import { createKekFile, kmeSubjects, loadKekRing, openAtEdge, parsePoolLevel, parseSealedKeyContainer } from '@vigil/kme-contract';
import { LinkSimulator } from '@vigil/qkd-sim';
import { KeysAllocated } from '@vigil/schemas';
import { startTestBus, testLogger, type TestBus } from '@vigil/testkit';
import { applyTopology } from '../src/index.ts';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 16, max_key_count: 1_000_000, max_SAE_ID_count: 0 };
let t: TestBus;
let dir: string;
let kekFile: string;

before(async () => {
  t = await startTestBus();
  dir = await mkdtemp(join(tmpdir(), 'vigil-kme-crash-'));
  kekFile = join(dir, 'kek.json');
  createKekFile(kekFile);
  await applyTopology(t.bus, {
    kmes: [{ id: 'KME_A' }, { id: 'KME_B' }],
    saes: [
      { id: 'SAE_A', kme: 'KME_A' },
      { id: 'SAE_B', kme: 'KME_B' },
    ],
    links: [{ id: 'AB', kmes: ['KME_A', 'KME_B'], rate_bps: 1_000_000, limits }],
  });
  const sim = new LinkSimulator({ bus: t.bus, ring: loadKekRing(kekFile), logger: testLogger('sim'), linkId: 'AB', rateBps: 1 });
  for (let i = 0; i < 16; i++) await sim.publishBlock(64 * 1024);
});
after(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'kme-worker-process.ts')], {
    env: { ...process.env, NATS_URL: t.nats.url, VIGIL_NAMESPACE: t.bus.names.namespace, KEK_FILE: kekFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

test('a KME worker killed with SIGKILL under load never hands out a key twice, and the pool stays consistent', { timeout: 120_000 }, async () => {
  const ring = loadKekRing(kekFile);
  const caller = { actor: { kind: 'sae' as const, id: 'SAE_A' } };
  let worker = await startWorker();
  const second = await startWorker();
  const keys = new Map<string, string>();
  let failures = 0;
  let stop = false;
  const client = async () => {
    while (!stop) {
      try {
        const c = await request(t.bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', number: 4 }, { caller, timeoutMs: 3000, parse: parseSealedKeyContainer });
        for (const k of openAtEdge(ring, c).keys) {
          assert.ok(!keys.has(k.key_ID), `key_ID ${k.key_ID} twice`);
          keys.set(k.key_ID, k.key);
        }
      } catch {
        failures++;
      }
    }
  };
  const clients = Array.from({ length: 16 }, client);
  await new Promise((r) => setTimeout(r, 1500));
  worker.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  worker = await startWorker();
  await new Promise((r) => setTimeout(r, 1500));
  stop = true;
  await Promise.all(clients);
  worker.kill('SIGKILL');
  second.kill('SIGKILL');

  assert.ok(keys.size > 100, `only ${keys.size} keys delivered`);
  assert.equal(new Set(keys.values()).size, keys.size, 'key material handed out twice');

  // Accounting: every delivered key lies in an allocation, and allocated + available = supplied.
  const pool = await loadAggregate(t.bus, 'keyreq.AB.pool');
  let allocatedBytes = 0;
  const allocatedIds = new Set<string>();
  for (const { event } of pool.events) {
    if (!KeysAllocated.is(event)) continue;
    for (const a of event.data.allocations) {
      allocatedBytes += (a.key_count * a.key_bits) / 8;
      for (let i = 0; i < a.key_count; i++) allocatedIds.add(`${a.request_id.slice(0, 32)}${i.toString(16).padStart(4, '0')}`);
    }
  }
  for (const id of keys.keys()) assert.ok(allocatedIds.has(id), `delivered key ${id} has no allocation`);
  const verifier = await startWorker();
  try {
    const level = await request(t.bus, kmeSubjects.poolLevel, { link_id: 'AB' }, { timeoutMs: 5000, parse: parsePoolLevel });
    assert.equal(level.available_bytes + allocatedBytes, 16 * 64 * 1024);
  } finally {
    verifier.kill('SIGKILL');
  }
  testLogger().info({ delivered: keys.size, failures }, 'crash test');
});
