// The KME read models, on PostgreSQL and PGlite: what the pool and each request look like, and the same after a rebuild.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, type Caller } from '@vigil/bus';
import type { KekRing } from '@vigil/crypto';
import { kmeSubjects, parseSealedKeyContainer } from '@vigil/kme-contract';
import { LinkSimulator } from '@vigil/qkd-sim';
import { readCheckpoint, resetProjection, schema, startProjector, type Database, type Projection, type RunningProjector } from '@vigil/store';
import { availableDatabaseKinds, createTestDatabase, testLogger, type TestBus, type TestDatabase } from '@vigil/testkit';
import { keyRequestsProjection, keySupplyProjection } from '../src/index.ts';
import { startKmeFixture, twoKmes, type KmeFixture } from './kme-fixture.ts';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 32, max_key_count: 1000, max_SAE_ID_count: 1 };
const sae = (id: string): Caller => ({ actor: { kind: 'sae', id } });
let t: TestBus;
let fixture: KmeFixture;
let ring: KekRing;

before(async () => {
  fixture = await startKmeFixture({ topology: twoKmes(limits, ['SAE_B2']) });
  ({ t, ring } = fixture);
  const sim = new LinkSimulator({ bus: t.bus, ring, logger: testLogger(), linkId: 'AB', rateBps: 1 });
  await sim.publishBlock(1024);
  await sim.publishBlock(1024);
  const got = await request(t.bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', number: 3, additional_slave_SAE_IDs: ['SAE_B2'] }, { caller: sae('SAE_A'), timeoutMs: 5000, parse: parseSealedKeyContainer });
  await request(t.bus, kmeSubjects.decKeys, { master_SAE_ID: 'SAE_A', key_IDs: got.keys.map((k) => k.key_ID) }, { caller: sae('SAE_B'), timeoutMs: 5000 });
  await request(t.bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', number: 2, size: 512 }, { caller: sae('SAE_A'), timeoutMs: 5000 });
});
after(async () => {
  await fixture.close();
});

async function caughtUp(database: Database, projection: Projection): Promise<void> {
  const info = await t.bus.jsm.streams.info(t.bus.names.stream(projection.stream));
  const deadline = Date.now() + 10_000;
  while ((await readCheckpoint(database, projection.name)) < info.state.last_seq) {
    if (Date.now() > deadline) throw new Error(`${projection.name} did not catch up`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function snapshot(database: Database) {
  const requests = await database.db.select().from(schema.kmeKeyRequests).orderBy(schema.kmeKeyRequests.allocatedAt);
  const links = await database.db.select().from(schema.kmeLinks);
  const supply = await database.db.select().from(schema.kmeSupply);
  return {
    requests: requests.map(({ allocatedAt: _a, expiresAt: _e, ...r }) => r),
    links: links.map(({ updatedAt: _u, ...l }) => l),
    supply: supply.map(({ lastBlockAt: _l, ...s }) => s),
  };
}

for (const kind of await availableDatabaseKinds()) {
  describe(`KME read models on ${kind}`, () => {
    let db: TestDatabase;
    const running: RunningProjector[] = [];
    before(async () => {
      db = await createTestDatabase(kind);
    });
    after(async () => {
      for (const p of running) await p.stop();
      await db.close();
    });

    test('pool, supply and requests; never material; the same after a rebuild', async () => {
      for (const p of [keyRequestsProjection, keySupplyProjection]) running.push(await startProjector(t.bus, db.database, p, { instance: kind, leaseTtlMs: 1000 }));
      await caughtUp(db.database, keyRequestsProjection);
      await caughtUp(db.database, keySupplyProjection);
      const first = await snapshot(db.database);
      assert.deepEqual(first.supply, [{ linkId: 'AB', suppliedBytes: 2048, blocks: 2 }]);
      const [link] = first.links;
      assert.equal(link?.allocatedBytes, 3 * 32 + 2 * 64);
      assert.equal(link?.allocatedKeys, 5);
      assert.equal(link?.keySize, 256);
      assert.deepEqual(
        first.requests.map((r) => [r.keyCount, r.keyBits, r.status, r.retrieved]),
        [
          [3, 256, 'delivered', { SAE_B: 3 }],
          [2, 512, 'delivered', {}],
        ],
      );
      assert.ok(!JSON.stringify(first).includes('sealed'));

      for (const p of running.splice(0)) await p.stop();
      for (const p of [keyRequestsProjection, keySupplyProjection]) {
        await resetProjection(db.database, p, testLogger());
        running.push(await startProjector(t.bus, db.database, p, { instance: `${kind}-2`, leaseTtlMs: 1000 }));
      }
      await caughtUp(db.database, keyRequestsProjection);
      await caughtUp(db.database, keySupplyProjection);
      assert.deepEqual(await snapshot(db.database), first);
    });
  });
}
