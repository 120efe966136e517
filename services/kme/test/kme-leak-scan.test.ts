// After a run of deliveries and refusals, no stream message and no log line holds key material in clear.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { DeliverPolicy } from '@nats-io/jetstream';
import { request, streamDeclarations, type Caller } from '@vigil/bus';
import type { KekRing } from '@vigil/crypto';
import { kmeSubjects, openAtEdge, parseSealedKeyContainer } from '@vigil/kme-contract';
import { createLogger } from '@vigil/log';
import { LinkSimulator } from '@vigil/qkd-sim';
import type { TestBus } from '@vigil/testkit';
import { Eraser } from '../src/index.ts';
import { startKmeFixture, twoKmes, type KmeFixture } from './kme-fixture.ts';

const limits = { key_size: 256, min_key_size: 64, max_key_size: 1024, max_key_per_request: 32, max_key_count: 100_000, max_SAE_ID_count: 1 };
const sae = (id: string): Caller => ({ actor: { kind: 'sae', id } });
const logs = new PassThrough();
let logText = '';
logs.on('data', (c: Buffer) => (logText += c.toString('utf8')));
const logger = createLogger({ service: 'kme', level: 'trace', destination: logs });
let t: TestBus;
let fixture: KmeFixture;
let ring: KekRing;
let eraser: Eraser;

before(async () => {
  fixture = await startKmeFixture({ topology: twoKmes(limits, ['SAE_B2']), logger });
  ({ t, ring } = fixture);
  eraser = new Eraser({ bus: t.bus, logger, intervalMs: 50 });
  await eraser.start();
  const sim = new LinkSimulator({ bus: t.bus, ring, logger, linkId: 'AB', rateBps: 1 });
  for (let i = 0; i < 4; i++) await sim.publishBlock(4096);
});
after(async () => {
  await eraser.stop();
  await fixture.close();
});

test('streams and logs hold no plaintext key material', async () => {
  const delivered: Buffer[] = [];
  for (const [number, size, extra] of [
    [1, 256, []],
    [32, 64, []],
    [4, 1024, ['SAE_B2']],
  ] as const) {
    const got = openAtEdge(ring, await request(t.bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', number, size, additional_slave_SAE_IDs: [...extra] }, { caller: sae('SAE_A'), timeoutMs: 5000, parse: parseSealedKeyContainer }));
    for (const k of got.keys) delivered.push(Buffer.from(k.key, 'base64'));
    const ids = got.keys.map((k) => k.key_ID);
    await request(t.bus, kmeSubjects.decKeys, { master_SAE_ID: 'SAE_A', key_IDs: ids }, { caller: sae('SAE_B'), timeoutMs: 5000 });
    await request(t.bus, kmeSubjects.decKeys, { master_SAE_ID: 'SAE_A', key_IDs: ids }, { caller: sae('SAE_B'), timeoutMs: 5000 }).catch(() => undefined);
  }
  await request(t.bus, kmeSubjects.encKeys, { slave_SAE_ID: 'SAE_B', size: 100 }, { caller: sae('SAE_A'), timeoutMs: 5000 }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300)); // a few erasure sweeps

  // Every message of every stream, raw.
  const stored: Buffer[] = [];
  for (const declaration of streamDeclarations) {
    const stream = t.bus.names.stream(declaration.name);
    const info = await t.bus.jsm.streams.info(stream);
    if (info.state.messages === 0) continue;
    const consumer = await t.bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    for await (const m of messages) {
      stored.push(Buffer.from(m.data));
      if (m.info.pending === 0) break;
    }
    await messages.close();
  }
  assert.ok(stored.length > 10);
  const haystacks = [...stored, Buffer.from(logText)];
  // 64-bit keys are short enough to occur by chance in random sealed bytes; the longer ones may not.
  for (const key of delivered.filter((k) => k.length >= 32)) {
    const needles = [key, Buffer.from(key.toString('base64')), Buffer.from(key.toString('hex'))];
    for (const h of haystacks) for (const n of needles) assert.equal(h.includes(n), false, 'plaintext key material found');
  }
  for (const key of delivered.filter((k) => k.length < 32)) {
    for (const h of haystacks) assert.equal(h.includes(Buffer.from(key.toString('base64'))), false, 'a base64 key found');
  }
  assert.ok(logText.length > 0, 'the logs were captured');
});
