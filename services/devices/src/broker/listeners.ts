import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Transport } from './device-authentication.ts';

/** Where devices connect. A port of 0 picks a free one; a listener left undefined is not started. */
export interface ListenerOptions {
  readonly host: string;
  readonly tcpPort?: number;
  readonly tls?: {
    readonly port: number;
    readonly certificatePem: string;
    readonly privateKeyPem: string;
    /** CA(s) of device client certificates: with them the listener asks for a client certificate (optional for the client). */
    readonly deviceCaPem?: string;
  };
  readonly wsPort?: number;
}

export interface Listening {
  readonly transport: Transport;
  readonly url: string;
  readonly port: number;
}

export interface RunningListeners {
  readonly listening: readonly Listening[];
  /** Stops accepting connections; those open stay until the broker closes them. */
  stopAccepting(): void;
  /** Resolves once every listener is closed (after the broker closed the connections). */
  closed(): Promise<void>;
}

/** The path of the WebSocket listener, as MQTT over WebSocket clients expect it by default. */
export const webSocketPath = '/mqtt';

type Accept = (connection: Duplex, transport: Transport, request?: IncomingMessage) => void;

async function listen(server: TcpServer | TlsServer | HttpServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? (address satisfies AddressInfo).port : port;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the broker's listeners: plain MQTT over TCP, MQTT over TLS (client certificates requested when a device CA
 * is given, and verified against it; a device without one logs in with its secret), and MQTT over WebSocket.
 * `onTlsError` hears failed handshakes (counted, never a crash).
 */
export async function startListeners(options: ListenerOptions, accept: Accept, onTlsError: (err: Error) => void): Promise<RunningListeners> {
  const servers: (TcpServer | TlsServer | HttpServer)[] = [];
  // A server emits 'close' once it stops listening and its last connection has ended.
  const ended: Promise<unknown>[] = [];
  const track = <S extends TcpServer | TlsServer | HttpServer>(server: S): S => {
    servers.push(server);
    ended.push(new Promise((resolve) => server.once('close', resolve)));
    return server;
  };
  const listening: Listening[] = [];
  const closeAll = () => {
    for (const s of servers) if (s.listening) s.close();
  };
  try {
    if (options.tcpPort !== undefined) {
      const server = track(createTcpServer((socket) => accept(socket, 'tcp')));
      const port = await listen(server, options.host, options.tcpPort);
      listening.push({ transport: 'tcp', port, url: `mqtt://${urlHost(options.host)}:${port}` });
    }
    if (options.tls) {
      const { certificatePem, privateKeyPem, deviceCaPem } = options.tls;
      // The handshake accepts a client certificate that does not verify, so that the refusal happens at CONNECT,
      // where it is answered (not authorized) and reported on AUDIT rather than lost as a handshake error.
      const server = track(createTlsServer(
        { cert: certificatePem, key: privateKeyPem, minVersion: 'TLSv1.2', ...(deviceCaPem ? { ca: deviceCaPem, requestCert: true, rejectUnauthorized: false } : {}) },
        (socket) => accept(socket, 'tls'),
      ));
      server.on('tlsClientError', onTlsError);
      const port = await listen(server, options.host, options.tls.port);
      listening.push({ transport: 'tls', port, url: `mqtts://${urlHost(options.host)}:${port}` });
    }
    if (options.wsPort !== undefined) {
      const server = track(
        createHttpServer((_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket: connect to ${webSocketPath}\n`);
        }),
      );
      const wss = new WebSocketServer({ server, path: webSocketPath });
      wss.on('connection', (ws, request) => accept(createWebSocketStream(ws), 'ws', request));
      server.on('close', () => wss.close());
      const port = await listen(server, options.host, options.wsPort);
      listening.push({ transport: 'ws', port, url: `ws://${urlHost(options.host)}:${port}${webSocketPath}` });
    }
  } catch (err) {
    closeAll();
    throw err;
  }
  return {
    listening,
    stopAccepting: closeAll,
    async closed() {
      closeAll();
      for (const s of servers) if ('closeAllConnections' in s) s.closeAllConnections();
      await Promise.all(ended);
    },
  };
}
