import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { followEvents, isEventOf, StreamAppender, type Bus, type Following } from '@vigil/bus';
import { uuidv7 } from '@vigil/crypto';
import { deviceCommandsFilter, type DeviceTopic } from '@vigil/devices-contract';
import type { Logger } from '@vigil/log';
import { DeviceCommandRequested, type AnyEnvelope } from '@vigil/schemas';
import { backoffDelay } from '../backoff.ts';
import { deviceMessageEvent, type DeviceMessageEvent } from '../ingest/device-message.ts';
import type { DeviceDirectory } from '../registry/device-directory.ts';
import type { TenantLimits } from '../registry/tenant-limits.ts';
import { BrokerMetrics } from './broker-metrics.ts';
import { DeviceAccessAudit, type AuditBudget, type DenialReason } from './device-access-audit.ts';
import { ConnackCode, decideConnect, type PresentedCredentials, type RefusalCode, type Transport } from './device-authentication.ts';
import { startListeners, type ListenerOptions, type Listening, type RunningListeners } from './listeners.ts';
import { Pacer } from './pacer.ts';
import { PresenceRecorder, type OfflineReason, type SessionPresence } from './presence-recorder.ts';
import { deviceTopics, forwardable, publishableTopic, subscribableTopic, type DeviceTopics } from './topic-policy.ts';
import { UnacknowledgedMessages, type HeldMessage } from './unacknowledged-messages.ts';

export type MessageMapper = (topic: DeviceTopic, payload: Uint8Array, now: Date) => DeviceMessageEvent;

export interface DeviceBrokerOptions {
  readonly bus: Bus;
  readonly directory: DeviceDirectory;
  readonly logger: Logger;
  readonly listen: ListenerOptions;
  /** A device that publishes nothing for 3 of these is marked offline and disconnected. */
  readonly heartbeatSeconds: number;
  /** Per device; 0: no limit. Faster publishes are held back; those more than `maxRateDelayMs` behind are refused. */
  readonly maxMessagesPerSecond: number;
  readonly maxRateDelayMs?: number;
  readonly maxPayloadBytes: number;
  /**
   * Turns a message on a device's data topic into its event. Default: `deviceMessageEvent` (readings, heartbeats and
   * TALQ attributes, which are readings named `<functionId>.<attributeName>`). Events must be
   * made with `createEvent`, which validates them: the broker appends them without validating them again.
   */
  readonly mapMessage?: MessageMapper;
  readonly auditBudget?: AuditBudget;
  /** How long a message the device was not acknowledged for is remembered, to recognise its resend (default 10 min). */
  readonly unacknowledgedTtlMs?: number;
  /**
   * How long a message may wait for the bus (the device gets no PUBACK meanwhile; failed appends are retried) before
   * its connection is closed so that the device sends it again (default 20 s).
   */
  readonly busOutageHoldMs?: number;
  /** Tenants' suspensions: a suspended tenant's devices are refused at CONNECT and disconnected when it is suspended. */
  readonly tenants?: TenantLimits;
}

/** One authenticated connection of a device. */
interface Session {
  /** The `session` of its presence events: one per connection. */
  readonly id: string;
  readonly client: Client;
  readonly topics: DeviceTopics;
  readonly transport: Transport;
  readonly credentialId: string;
  readonly pacer: Pacer;
  lastSeenAt: number;
  /** No more PUBACKs: the connection is being closed after what was already acknowledged has been flushed. */
  closing: boolean;
  closeReason: OfflineReason | undefined;
  /** The session this one would take over, marked until this one is registered or gone. */
  replaces: Session | undefined;
  takenOverBy: Session | undefined;
  /** Set from the moment the device is announced online until it is announced offline. */
  presence: SessionPresence | undefined;
}

const brokerStopping = 'the broker is stopping';

function refusal(returnCode: RefusalCode, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

function payloadBytes(payload: string | Buffer): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}

function peerCertificate(connection: Duplex): PresentedCredentials['certificate'] {
  if (!(connection instanceof TLSSocket)) return undefined;
  const certificate = connection.getPeerCertificate();
  // An empty object when the client sent none.
  if (!certificate.raw) return undefined;
  return { verified: connection.authorized, sha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase() };
}

const defaultMapper: MessageMapper = (topic, payload, now) => deviceMessageEvent(topic, payload, 'mqtt', now);

/**
 * The MQTT broker devices connect to (aedes), in front of the bus.
 *
 * - A device logs in as itself (client id = device id; its secret as password, or its registered client
 *   certificate on TLS) and is confined to `v1/<tenant>/<device>/`: it publishes `telemetry`, `heartbeat` and
 *   `talq/...`, subscribes to `commands`, and receives nothing but its own commands.
 * - A QoS 1 publish is acknowledged only after JetStream has stored its event: the append happens inside
 *   `authorizePublish`, and aedes writes the PUBACK when it is called back. Appends start in arrival order on one
 *   NATS connection, so a device's messages reach the stream in order, several in flight at once.
 * - While the bus is away, messages wait for it (no PUBACK) for up to `busOutageHoldMs`. If an append fails for
 *   good, the device gets no PUBACK: its connection is closed (after the PUBACKs already written have gone out), and
 *   it sends the message again when it reconnects; `UnacknowledgedMessages` makes that resend the same event, stored
 *   once.
 * - MQTT 3.1.1 has no negative acknowledgement, so a refused publish (another topic, too large, not a reading,
 *   too fast) closes the connection without PUBACK (MQTT-3.3.5-2), counted and reported on AUDIT at a capped rate.
 */
export class DeviceBroker {
  readonly #bus: Bus;
  readonly #directory: DeviceDirectory;
  readonly #logger: Logger;
  readonly #options: DeviceBrokerOptions;
  readonly #mapMessage: MessageMapper;
  readonly #metrics = new BrokerMetrics();
  readonly #audit: DeviceAccessAudit;
  readonly #presence: PresenceRecorder;
  readonly #unacknowledged: UnacknowledgedMessages;
  readonly #sessions = new WeakMap<Client, Session>();
  /** The registered session of each device connected here. */
  readonly #connected = new Map<string, Session>();
  readonly #transports = new WeakMap<Duplex, Transport>();
  readonly #heartbeatMs: number;
  #aedes: Aedes | undefined;
  /** Device messages go through it: many appends in flight, in order, without a request per message. */
  #appender: StreamAppender | undefined;
  #listeners: RunningListeners | undefined;
  #commands: Following | undefined;
  #stopWithdrawals: (() => void) | undefined;
  #stopSuspensions: (() => void) | undefined;
  #timers: NodeJS.Timeout[] = [];
  #busStatus: AsyncIterable<unknown> | undefined;
  #busConnected = true;
  readonly #busWaiters = new Set<() => void>();
  #stopping = false;
  #appendsInFlight = 0;

  constructor(options: DeviceBrokerOptions) {
    this.#bus = options.bus;
    this.#directory = options.directory;
    this.#logger = options.logger.child({ component: 'mqtt-broker' });
    this.#options = options;
    this.#mapMessage = options.mapMessage ?? defaultMapper;
    this.#audit = new DeviceAccessAudit(options.bus, this.#logger, this.#metrics, options.auditBudget);
    this.#presence = new PresenceRecorder(options.bus, this.#logger, this.#metrics);
    this.#unacknowledged = new UnacknowledgedMessages(options.unacknowledgedTtlMs ?? 10 * 60_000);
    this.#heartbeatMs = options.heartbeatSeconds * 1000;
  }

  get metrics(): BrokerMetrics {
    return this.#metrics;
  }

  get listening(): readonly Listening[] {
    return this.#listeners?.listening ?? [];
  }

  /** The URL of the first listener of a transport (tests, the start-up banner). */
  url(transport: Transport): string {
    const found = this.listening.find((l) => l.transport === transport);
    if (!found) throw new Error(`the broker has no ${transport} listener`);
    return found.url;
  }

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      connectTimeout: 10_000,
      // Client ids are device ids (UUIDs): longer than MQTT 3.1's 23 characters.
      maxClientsIdLength: 64,
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, done),
      authorizeSubscribe: (client, subscription, done) => this.#authorizeSubscribe(client, subscription, done),
      authorizeForward: (client, packet) => this.#authorizeForward(client, packet),
    });
    this.#aedes = aedes;
    this.#appender = new StreamAppender(this.#bus);
    aedes.on('client', (client) => this.#registered(client));
    aedes.on('clientDisconnect', (client) => this.#ended(client));
    aedes.on('clientError', (client, err) => this.#logger.debug({ device_id: client.id, err: err.message }, 'device connection error'));
    aedes.on('connectionError', (_client, err) => this.#logger.debug({ err: err.message }, 'connection error before CONNECT'));
    this.#watchBus();
    this.#commands = await followEvents(this.#bus, deviceCommandsFilter, ({ event, subject }) => this.#deliverCommand(subject, event), { from: 'now' });
    this.#stopWithdrawals = this.#directory.onAccessWithdrawn((change) => this.#accessWithdrawn(change));
    this.#stopSuspensions = this.#options.tenants?.onRefused((tenant, why) => {
      for (const session of this.#connected.values()) if (session.topics.identity.tenant === tenant) this.#closeGracefully(session, why);
    });
    try {
      this.#listeners = await startListeners(
        this.#options.listen,
        (connection, transport, request) => this.#handleConnection(connection, transport, request),
        (err) => {
          this.#metrics.connectionsRefused.add('tls_handshake');
          this.#logger.debug({ err: err.message }, 'TLS handshake failed');
        },
      );
    } catch (err) {
      // A port in use, say: nothing of this broker may stay behind.
      await this.stop();
      throw err;
    }
    const sweepEvery = Math.max(250, Math.min(this.#heartbeatMs / 4, 15_000));
    this.#timers.push(
      setInterval(() => this.#sweepSilent(Date.now()), sweepEvery),
      setInterval(() => this.#unacknowledged.sweep(Date.now()), 30_000),
    );
    for (const t of this.#timers) t.unref();
    this.#logger.info({ listeners: this.listening.map((l) => l.url) }, 'MQTT broker listening');
  }

  /**
   * Stops taking messages, lets the appends in flight finish and their PUBACKs go out, closes every connection
   * (offline `broker_stopped`), waits for presence events and audit reports on their way, and closes the listeners.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#listeners?.stopAccepting();
    for (const t of this.#timers) clearInterval(t);
    this.#stopWithdrawals?.();
    this.#stopSuspensions?.();
    // Appends waiting for the bus give up now (their devices get no PUBACK and send again elsewhere).
    for (const wake of this.#busWaiters) wake();
    this.#busWaiters.clear();
    await this.#commands?.stop();
    await waitUntil(() => this.#appendsInFlight === 0, 3000);
    for (const session of this.#connected.values()) this.#closeGracefully(session, 'broker_stopped');
    await waitUntil(() => this.#connected.size === 0, 2500);
    const aedes = this.#aedes;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await this.#presence.flush(5000);
    await this.#audit.flush();
    await this.#listeners?.closed();
    await this.#appender?.close();
    const status = this.#busStatus;
    if (status && 'stop' in status && typeof status.stop === 'function') status.stop();
  }

  async details(): Promise<Record<string, unknown>> {
    const m = this.#metrics;
    return {
      listeners: this.listening.map((l) => ({ transport: l.transport, url: l.url })),
      bus_connected: this.#busConnected,
      connected_devices: this.#connected.size,
      unacknowledged_held: this.#unacknowledged.size,
      connections: m.connections.toJSON(),
      connections_refused: m.connectionsRefused.toJSON(),
      disconnects: m.disconnects.toJSON(),
      messages: {
        accepted: m.accepted.toJSON(),
        refused: m.refused.toJSON(),
        throttled: m.throttled,
        redelivered: m.redelivered,
        append_failures: m.appendFailures.toJSON(),
      },
      subscriptions: { granted: m.subscriptionsGranted.total(), refused: m.subscriptionsRefused.total() },
      commands: { delivered: m.commandsDelivered, not_connected_here: m.commandsNotHere },
      audit: { reported: m.auditReported, suppressed: m.auditSuppressed, failed: m.auditFailed },
      presence: { recorded: m.presenceRecorded, failed: m.presenceFailed },
    };
  }

  // Connections.

  #handleConnection(connection: Duplex, transport: Transport, request?: IncomingMessage): void {
    const aedes = this.#aedes;
    if (!aedes || this.#stopping) {
      connection.destroy();
      return;
    }
    this.#transports.set(connection, transport);
    aedes.handle(connection, request);
  }

  #watchBus(): void {
    const status = this.#bus.nc.status();
    this.#busStatus = status;
    void (async () => {
      for await (const s of status) {
        if (s.type === 'disconnect') this.#busConnected = false;
        else if (s.type === 'reconnect') {
          this.#busConnected = true;
          for (const wake of this.#busWaiters) wake();
          this.#busWaiters.clear();
        }
      }
    })().catch(() => {});
  }

  #authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const transport = this.#transports.get(client.conn) ?? 'tcp';
    // Devices are let in while the bus is away (their messages wait for it): mqtt.js, like many clients, gives up
    // for good after a refused CONNECT, and then would never send again what it has not been acknowledged.
    if (this.#stopping || this.#bus.nc.isClosed()) {
      this.#metrics.connectionsRefused.add('server_unavailable');
      done(refusal(ConnackCode.ServerUnavailable, brokerStopping), false);
      return;
    }
    const decision = decideConnect(this.#directory, { transport, clientId: client.id, username, password, certificate: peerCertificate(client.conn) });
    if (!decision.ok) {
      this.#metrics.connectionsRefused.add(decision.reason);
      const tenant = this.#directory.get(decision.claimed)?.tenant;
      this.#audit.authenticationFailed({ claimed: decision.claimed, reason: decision.reason, transport, ...(tenant ? { tenant } : {}) });
      done(refusal(decision.returnCode, 'refused'), false);
      return;
    }
    const { device } = decision;
    const tenantRefusal = this.#options.tenants?.refusal(device.tenant);
    if (tenantRefusal) {
      this.#metrics.connectionsRefused.add(tenantRefusal);
      this.#audit.authenticationFailed({ claimed: device.deviceId, reason: tenantRefusal, transport, tenant: device.tenant });
      done(refusal(ConnackCode.NotAuthorized, 'refused'), false);
      return;
    }
    const session: Session = {
      id: uuidv7(),
      client,
      topics: deviceTopics({ tenant: device.tenant, deviceId: device.deviceId }),
      transport,
      credentialId: decision.credentialId,
      pacer: new Pacer(this.#options.maxMessagesPerSecond, this.#options.maxMessagesPerSecond),
      lastSeenAt: Date.now(),
      closing: false,
      closeReason: undefined,
      replaces: undefined,
      takenOverBy: undefined,
      presence: undefined,
    };
    // aedes closes the device's current connection when this one registers (same client id): mark it taken over.
    const current = this.#connected.get(device.deviceId);
    if (current && !current.takenOverBy) {
      current.takenOverBy = session;
      session.replaces = current;
    }
    this.#sessions.set(client, session);
    // aedes reports the end of a registered client as `clientDisconnect`, except when a stale close of an earlier
    // connection unregisters it first, and not at all for one that never registered: the socket's close covers both.
    client.conn.once('close', () => this.#ended(client));
    done(null, true);
  }

  #registered(client: Client): void {
    const session = this.#sessions.get(client);
    if (!session) return;
    session.replaces = undefined;
    if (client.closed) return;
    const deviceId = session.topics.identity.deviceId;
    const previous = this.#connected.get(deviceId);
    this.#connected.set(deviceId, session);
    this.#metrics.connections.add(session.transport);
    // The connection this one takes over goes offline now, not when its socket's close comes (that may come after
    // this registration, or after the one after): its offline is then recorded before this one's online.
    if (previous && previous !== session) {
      previous.takenOverBy ??= session;
      this.#wentOffline(previous, 'taken_over');
    }
    session.presence = this.#presence.online(session.topics.identity, session.id);
  }

  /** Records a session's offline, once. */
  #wentOffline(session: Session, reason: OfflineReason): void {
    const presence = session.presence;
    if (!presence) return;
    session.presence = undefined;
    this.#metrics.disconnects.add(reason);
    this.#presence.offline(presence, reason);
  }

  #ended(client: Client): void {
    const session = this.#sessions.get(client);
    if (!session) return;
    // A connection that authenticated but never registered gives back the one it was to take over.
    const replaced = session.replaces;
    if (replaced?.takenOverBy === session) replaced.takenOverBy = undefined;
    session.replaces = undefined;
    if (!session.presence) return;
    const deviceId = session.topics.identity.deviceId;
    if (this.#connected.get(deviceId) === session) this.#connected.delete(deviceId);
    const reason: OfflineReason =
      session.closeReason ?? (session.takenOverBy ? 'taken_over' : Reflect.get(client, '_disconnected') === true ? 'disconnected' : 'connection_lost');
    this.#wentOffline(session, reason);
  }

  /**
   * Closes a connection without dropping what it was already told: no PUBACK after this, the socket is ended (its
   * pending writes, PUBACKs included, go out before the FIN), and destroyed if the client does not close its side.
   */
  #closeGracefully(session: Session, reason: OfflineReason): void {
    if (session.closing) return;
    session.closing = true;
    session.closeReason ??= reason;
    const { client } = session;
    if (client.closed) return;
    const force = setTimeout(() => client.close(), 2000);
    force.unref();
    client.conn.once('close', () => clearTimeout(force));
    client.conn.end();
  }

  #sweepSilent(now: number): void {
    const limit = 3 * this.#heartbeatMs;
    for (const session of this.#connected.values()) {
      if (!session.closing && now - session.lastSeenAt > limit) this.#closeGracefully(session, 'heartbeat_missed');
    }
  }

  #accessWithdrawn(change: { readonly deviceId: string; readonly remainingCredentials: readonly string[]; readonly decommissioned: boolean }): void {
    const session = this.#connected.get(change.deviceId);
    if (!session) return;
    if (change.decommissioned || !change.remainingCredentials.includes(session.credentialId)) this.#closeGracefully(session, 'credential_revoked');
  }

  // Publishing.

  #authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const session = client ? this.#sessions.get(client) : undefined;
    if (!client || !session) {
      done(new Error('publish outside a device session'));
      return;
    }
    if (client.closed) {
      // The last will, published as the connection ends: the device's own message, checked and stored like any.
      this.#acceptWill(session, packet, done);
      return;
    }
    // Closing: no answer at all, so no PUBACK; the device sends it again on its next connection.
    if (session.closing) return;
    if (this.#stopping) {
      this.#closeGracefully(session, 'broker_stopped');
      return;
    }
    const topic = publishableTopic(session.topics, packet.topic);
    if (!topic) return this.#refuse(session, packet.topic, 'topic_not_allowed');
    const payload = payloadBytes(packet.payload);
    if (payload.length > this.#options.maxPayloadBytes) return this.#refuse(session, packet.topic, 'payload_too_large');
    const wait = session.pacer.delay(Date.now(), this.#options.maxRateDelayMs ?? 1000);
    if (wait === undefined) return this.#refuse(session, packet.topic, 'rate_limited');
    if (wait > 0) {
      // Held back, in order (later messages wait longer); aedes reads no further meanwhile, which slows the device.
      this.#metrics.throttled += 1;
      setTimeout(() => this.#accept(session, packet, topic, payload, done), wait);
      return;
    }
    this.#accept(session, packet, topic, payload, done);
  }

  #accept(session: Session, packet: PublishPacket, topic: DeviceTopic, payload: Buffer, done: (error?: Error | null) => void): void {
    if (session.closing || session.client.closed) return;
    const now = Date.now();
    session.lastSeenAt = now;
    // Nothing a device sends is kept for later subscribers.
    packet.retain = false;
    const packetId = packet.messageId;
    if (packet.qos === 0 || packetId === undefined) {
      const mapped = this.#mapMessage(topic, payload, new Date(now));
      if (!mapped.ok) return this.#refuse(session, packet.topic, 'malformed_payload');
      // QoS 0 promises nothing: a failed append is counted, and the device is not disconnected for it.
      this.#appendCounted(mapped.subject, mapped.event).then(
        () => {
          this.#metrics.accepted.add(`${topic.channel.kind}.qos0`);
          done(null);
        },
        (err: unknown) => {
          this.#metrics.appendFailures.add('qos0');
          this.#logger.debug({ err, device_id: session.topics.identity.deviceId }, 'a QoS 0 message could not be stored');
          done(null);
        },
      );
      return;
    }
    const deviceId = session.topics.identity.deviceId;
    let message = this.#unacknowledged.repeated(deviceId, packetId, packet.topic, payload);
    if (message) this.#metrics.redelivered += 1;
    else {
      const mapped = this.#mapMessage(topic, payload, new Date(now));
      if (!mapped.ok) return this.#refuse(session, packet.topic, 'malformed_payload');
      message = { topic: packet.topic, payload, subject: mapped.subject, event: mapped.event, receivedAt: now, storing: undefined };
      this.#unacknowledged.hold(deviceId, packetId, message);
    }
    const held = message;
    this.#stored(held)
      .then(
        () => {
          // Stored but not acknowledged when the connection is on its way out: the resend will be, without a second append.
          if (session.closing || session.client.closed) return;
          this.#metrics.accepted.add(`${topic.channel.kind}.qos${packet.qos}`);
          // aedes writes the PUBACK within this call.
          done(null);
          this.#unacknowledged.release(deviceId, packetId, held);
        },
        (err: unknown) => {
          this.#metrics.appendFailures.add(`qos${packet.qos}`);
          if (!session.closing) this.#logger.warn({ err, device_id: deviceId }, 'a device message could not be stored: no PUBACK, closing the connection so that the device sends it again');
          this.#closeGracefully(session, 'connection_lost');
        },
      )
      .catch((err: unknown) => this.#logger.error({ err, device_id: deviceId }, 'acknowledging a device message failed'));
  }

  #acceptWill(session: Session, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const topic = publishableTopic(session.topics, packet.topic);
    const payload = payloadBytes(packet.payload);
    const mapped = topic && payload.length <= this.#options.maxPayloadBytes ? this.#mapMessage(topic, payload, new Date()) : undefined;
    if (!mapped?.ok) {
      this.#metrics.refused.add('will_not_allowed');
      done(new Error('last will refused'));
      return;
    }
    packet.retain = false;
    this.#appendCounted(mapped.subject, mapped.event).then(
      () => done(null),
      (err: unknown) => {
        this.#metrics.appendFailures.add('will');
        this.#logger.debug({ err }, 'a last will could not be stored');
        done(new Error('last will not stored'));
      },
    );
  }

  /** One append for a held message, however many times the device sends it: in flight or done, it is reused. */
  #stored(message: HeldMessage): Promise<void> {
    message.storing ??= this.#appendThroughOutage(message).catch((err: unknown) => {
      message.storing = undefined;
      throw err;
    });
    return message.storing;
  }

  /**
   * Appends; when that fails (the bus went away, or came back and is not ready yet), waits for the bus and appends
   * again, the same event id each time (stored once, whichever attempt landed), up to the outage hold. Then it
   * fails, and the connection is closed. An attempt is never started while the bus is known to be away: nats.js
   * would buffer it, and the answer to a request buffered across a server restart can be lost.
   */
  async #appendThroughOutage(message: HeldMessage): Promise<void> {
    const giveUpAt = Date.now() + (this.#options.busOutageHoldMs ?? 20_000);
    for (let attempt = 1; ; attempt++) {
      if (!this.#busConnected && !(await this.#busReturns(giveUpAt - Date.now()))) throw new Error('the bus did not come back within the outage hold');
      try {
        await this.#appendCounted(message.subject, message.event);
        return;
      } catch (err) {
        const left = giveUpAt - Date.now();
        if (this.#stopping || left <= 0) throw err;
        await sleep(Math.min(left, backoffDelay(attempt, { minMs: 100, maxMs: 2000 })));
      }
    }
  }

  /** Resolves true once the bus is connected again, false after `timeoutMs`. */
  #busReturns(timeoutMs: number): Promise<boolean> {
    if (this.#busConnected) return Promise.resolve(true);
    if (timeoutMs <= 0 || this.#stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#busWaiters.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.#busWaiters.add(wake);
    });
  }

  async #appendCounted(subject: string, event: AnyEnvelope): Promise<void> {
    const appender = this.#appender;
    if (!appender) throw new Error('the broker is not started');
    this.#appendsInFlight += 1;
    try {
      await appender.append(subject, event);
    } finally {
      this.#appendsInFlight -= 1;
    }
  }

  #refuse(session: Session, topic: string, reason: DenialReason): void {
    this.#metrics.refused.add(reason);
    this.#audit.accessDenied(session.topics.identity, 'publish', topic, reason);
    this.#closeGracefully(session, 'connection_lost');
  }

  // Subscriptions and what is forwarded.

  #authorizeSubscribe(client: Client, subscription: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const session = this.#sessions.get(client);
    if (!session) {
      done(new Error('subscribe outside a device session'));
      return;
    }
    if (subscribableTopic(session.topics, subscription.topic)) {
      this.#metrics.subscriptionsGranted.add('commands');
      done(null, subscription);
      return;
    }
    // Refused in the SUBACK (granted QoS 128), the connection stays.
    this.#metrics.subscriptionsRefused.add('topic_not_allowed');
    this.#audit.accessDenied(session.topics.identity, 'subscribe', subscription.topic, 'topic_not_allowed');
    done(null, null);
  }

  #authorizeForward(client: Client, packet: AedesPublishPacket): AedesPublishPacket | null {
    const session = this.#sessions.get(client);
    return session && forwardable(session.topics, packet.topic) ? packet : null;
  }

  // Commands down.

  #deliverCommand(subject: string, event: AnyEnvelope): void {
    if (!isEventOf(commandEvents, event)) return;
    const tenant = subject.split('.')[1];
    const session = this.#connected.get(event.data.device_id);
    const aedes = this.#aedes;
    if (!aedes || !session || session.closing || session.topics.identity.tenant !== tenant) {
      this.#metrics.commandsNotHere += 1;
      return;
    }
    const { command_id, name, parameters } = event.data;
    const payload = Buffer.from(JSON.stringify({ command_id, name, parameters }));
    aedes.publish({ cmd: 'publish', topic: session.topics.commands, payload, qos: 1, retain: false, dup: false }, (err) => {
      if (err) this.#logger.warn({ err, device_id: event.data.device_id, command_id }, 'a command could not be published to its device');
    });
    this.#metrics.commandsDelivered += 1;
  }
}

const commandEvents = [DeviceCommandRequested] as const;

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
}
