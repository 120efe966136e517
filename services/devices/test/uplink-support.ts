// What the uplink tests share: an upstream broker on loopback that can be restarted, and waiting for a condition.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@vigil/bus';
import { Aedes } from 'aedes';
import { compileTopicPatterns } from '../src/uplink/uplink-topics.ts';
import type { UplinkSettings } from '../src/uplink/uplink-settings.ts';

export interface UpstreamBroker {
  readonly url: string;
  readonly kind: 'mosquitto' | 'aedes';
  /** MQTT 5 with Mosquitto; aedes speaks 3.1.1 only. */
  readonly protocolVersion: 4 | 5;
  /** Stops the broker as a restart would: sessions and queued messages are kept (Mosquitto saves them on SIGTERM). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  close(): Promise<void>;
}

const mosquittoBinary = '/usr/sbin/mosquitto';

/** Mosquitto on a free loopback port with persistence, or (binary missing, or UPLINK_TEST_BROKER=aedes) an aedes. */
export async function startUpstreamBroker(): Promise<UpstreamBroker> {
  const port = await freePort();
  if (existsSync(mosquittoBinary) && process.env['UPLINK_TEST_BROKER'] !== 'aedes') return startMosquitto(port);
  return startAedes(port);
}

async function startMosquitto(port: number): Promise<UpstreamBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      // Run as root, Mosquitto would switch to the user `mosquitto`, who may not write the temporary directory.
      `user ${userInfo().username}`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    const spawned = spawn(mosquittoBinary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = spawned;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mosquitto did not start within 10 s:\n${log}`)), 10_000);
      spawned.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString('utf8');
        if (/running/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      spawned.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mosquitto exited with ${code}:\n${log}`));
      });
    });
    spawned.removeAllListeners('exit');
    spawned.stderr?.removeAllListeners('data');
    spawned.stderr?.resume();
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    kind: 'mosquitto',
    protocolVersion: 5,
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startAedes(port: number): Promise<UpstreamBroker> {
  // One aedes instance across restarts: its in-memory persistence plays the part of Mosquitto's database.
  const broker = new Aedes();
  await broker.listen();
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const start = async () => {
    const s = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    server = s;
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    kind: 'aedes',
    protocolVersion: 4,
    stop,
    start,
    async close() {
      await stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

/** Settings for an uplink to `broker` with Fundamentum's topics for registry 42, quick to reconnect. */
export function uplinkSettingsFor(broker: UpstreamBroker, tenant: string, more: Partial<UplinkSettings> = {}): UplinkSettings {
  return {
    url: broker.url,
    tenant,
    clientId: 'vigil-uplink-test',
    patterns: compileTopicPatterns(
      ['registries/{registry}/devices/{serial}/events/#', 'registries/{registry}/devices/{serial}/states/#', 'registries/{registry}/devices/{serial}/heartbeat'],
      '42',
    ),
    protocolVersion: broker.protocolVersion,
    keepaliveSeconds: 30,
    sessionExpirySeconds: 3600,
    reconnect: { minMs: 100, maxMs: 5000 },
    ...more,
  };
}

/** Resolves once `check` holds, polling; fails with `what` after `timeoutMs` (a bound for a hang, not a speed test). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
