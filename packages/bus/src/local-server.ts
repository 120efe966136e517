import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalNatsServer {
  readonly url: string;
  readonly storeDir: string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its store unless `keepStore`. */
  stop(options?: { keepStore?: boolean }): Promise<void>;
}

export class NatsServerMissingError extends Error {
  constructor() {
    super('nats-server was not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install nats-server`; macOS: `brew install nats-server`) or set NATS_URL.');
    this.name = 'NatsServerMissingError';
  }
}

export function natsServerVersion(): string | undefined {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs `nats-server -js` on loopback, on a free port, with its store in a new temporary directory (or `storeDir`,
 * to restart a server on the same data). Resolves once the server accepts connections.
 */
export interface LocalNatsServerOptions {
  readonly storeDir?: string;
  readonly port?: number;
  /** Serve TLS only; with `verifyClients`, a client certificate signed by `caFile` is required (mutual TLS). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string; readonly verifyClients?: boolean };
  /** Require this user and password. */
  readonly credentials?: { readonly user: string; readonly password: string };
}

export async function startLocalNatsServer(options: LocalNatsServerOptions = {}): Promise<LocalNatsServer> {
  if (!natsServerVersion()) throw new NatsServerMissingError();
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), 'vigil-nats-')));
  const port = options.port ?? (await freePort());
  const { tls, credentials } = options;
  const security = [
    ...(tls ? ['--tls', '--tlscert', tls.certFile, '--tlskey', tls.keyFile, ...(tls.caFile ? ['--tlscacert', tls.caFile] : []), ...(tls.verifyClients ? ['--tlsverify'] : [])] : []),
    ...(credentials ? ['--user', credentials.user, '--pass', credentials.password] : []),
  ];
  const child: ChildProcess = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...security], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within 10 s:\n${log}`)), 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${log}`));
    });
  });
  child.stderr?.resume();
  child.removeAllListeners('exit');
  return {
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!stopOptions.keepStore) await rm(storeDir, { recursive: true, force: true });
    },
  };
}
