import { createHash } from 'node:crypto';
import { append, InvalidEventError, type Bus } from '@vigil/bus';
import type { Logger } from '@vigil/log';
import type { AnyEnvelope } from '@vigil/schemas';
import { connect, type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { backoffDelay, type Backoff } from '../backoff.ts';
import { UnacknowledgedMessages } from '../broker/unacknowledged-messages.ts';
import { ProblemTally } from '../problem-tally.ts';
import type { KnownDevice } from '../registry/device-directory.ts';
import { uplinkMessageEvent } from './uplink-message.ts';
import type { UplinkSettings } from './uplink-settings.ts';

export interface UplinkOptions {
  readonly settings: UplinkSettings;
  readonly bus: Bus;
  readonly logger: Logger;
  readonly directory: { bySerial(tenant: string, serial: string): KnownDevice | undefined };
  /** Waits between attempts to append a message while the bus does not take it. */
  readonly appendRetry?: Backoff;
  /** At most one warning line per this many milliseconds for refused messages. */
  readonly problemLogEveryMs?: number;
  readonly random?: () => number;
}

/** The uplink as /health/detailed shows it. */
export interface UplinkStatus {
  readonly broker: string;
  readonly client_id: string;
  readonly connected: boolean;
  readonly subscribed: boolean;
  readonly connected_since?: string;
  readonly last_message_at?: string;
  readonly last_error?: string;
  /** Failed attempts since the last successful connection. */
  readonly reconnect_attempts: number;
  readonly reconnects: number;
  /** The last reconnect delays chosen, oldest first. */
  readonly reconnect_delays_ms: readonly number[];
  readonly messages: {
    readonly received: number;
    readonly appended: number;
    /** Acknowledged upstream after they were on the bus (QoS 1). */
    readonly acknowledged: number;
    /** Resends (DUP) of messages already stored whose PUBACK was lost: acknowledged again, no second event. */
    readonly resends_acknowledged: number;
    /** Acknowledged without an event, so that they do not come back for ever. */
    readonly refused: Record<string, number>;
    /** Append attempts that failed and were retried. */
    readonly append_retries: number;
    /** Not acknowledged (the connection went, or the uplink stopped): the upstream broker redelivers them. */
    readonly left_for_redelivery: number;
  };
}

type Refusal = 'unmapped_topic' | 'unknown_serial' | 'malformed';
/** The uplink has one session upstream: packet identifiers are per session. */
const upstreamSession = 'upstream';
/** How long a message is remembered to recognise the broker's resend of it. */
const resendMemoryMs = 10 * 60_000;

function digestOf(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('hex');
}
type Stored = 'stored' | 'refused' | 'abandoned';

/**
 * The uplink to an upstream platform (Fundamentum-style): one MQTT client subscribed at QoS 1 to the configured topic
 * patterns with a persistent session, each message mapped onto the device with its serial number and appended to
 * DEVICE_TELEMETRY.
 *
 * A message is acknowledged upstream only once it is on the bus. mqtt.js calls `handleMessage(packet, done)` for every
 * PUBLISH and sends the PUBACK of a QoS 1 message only when `done` is called without an error (handlers/publish.js);
 * it also handles one packet at a time until then, which keeps upstream order. So `done` is called after the append,
 * and with an error (no PUBACK) when the message could not be stored on the connection it came on: the broker keeps
 * it in the session and sends it again on the next connection. A message the bus cannot take is retried on the same
 * connection (same event id, so the server stores it once) until the bus takes it, the connection goes (keepalive
 * cannot run while a message is held, so after 1.5 keepalives), or the uplink stops. A message left unacknowledged is
 * remembered (topic, packet identifier, payload; `UnacknowledgedMessages`, as the broker does for devices): when the
 * broker sends it again it gets the same event, stored once by the stream's duplicate window even if an earlier
 * attempt did reach the stream; and a resend (DUP) of a message stored and acknowledged whose PUBACK was lost is
 * acknowledged again without a second event. Not covered (stored twice, never lost): a resend after this process
 * restarted, and one from a broker that does not set DUP on resends.
 *
 * Messages that can never be stored (no pattern matches the topic, no device has the serial, the payload is not
 * telemetry or a heartbeat) are acknowledged, or the broker would redeliver them for ever; they are counted by kind
 * in the status and logged at most once a minute.
 *
 * Reconnection is its own: mqtt.js waits a fixed `reconnectPeriod`, so it is off (0) and every lost connection or
 * failed attempt schedules `reconnect()` after an exponential backoff with jitter.
 */
export class Uplink {
  readonly #settings: UplinkSettings;
  readonly #bus: Bus;
  readonly #logger: Logger;
  readonly #directory: UplinkOptions['directory'];
  readonly #appendRetry: Backoff;
  readonly #random: () => number;
  readonly #refusals: ProblemTally<Refusal>;
  readonly #busTrouble: ProblemTally<'append_failed'>;
  #client: MqttClient | undefined;
  /** Changes whenever a connection comes or goes: a message may be acknowledged only on the connection it came on. */
  #connection = 0;
  #stopping = false;
  #subscribed = false;
  #connectedSince: Date | undefined;
  #lastMessageAt: Date | undefined;
  #lastError: string | undefined;
  #attempts = 0;
  #reconnects = 0;
  readonly #delays: number[] = [];
  #reconnectTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** The message being stored, if any: stop() lets it finish. */
  #inProgress: Promise<void> | undefined;
  /** Ends the wait between two append attempts early (connection gone, stopping). */
  #wake: (() => void) | undefined;
  /** Messages not acknowledged upstream, so that the broker's resend is recognised (see UnacknowledgedMessages). */
  readonly #unacknowledged = new UnacknowledgedMessages(resendMemoryMs);
  /**
   * The last message acknowledged under each packet identifier (at most 65,535 in a session). MQTT marks a resend
   * with DUP (a first delivery never has it), so a DUP packet that matches one is a message already stored whose
   * PUBACK was lost with its connection (a broker restart right after it, say).
   */
  readonly #acknowledged = new Map<number, { readonly topic: string; readonly digest: string; readonly at: number }>();
  readonly #counts = { received: 0, appended: 0, acknowledged: 0, resends_acknowledged: 0, append_retries: 0, left_for_redelivery: 0 };

  constructor(options: UplinkOptions) {
    this.#settings = options.settings;
    this.#bus = options.bus;
    this.#logger = options.logger.child({ component: 'uplink' });
    this.#directory = options.directory;
    this.#appendRetry = options.appendRetry ?? { minMs: 250, maxMs: 5000 };
    this.#random = options.random ?? Math.random;
    const every = options.problemLogEveryMs ?? 60_000;
    this.#refusals = new ProblemTally(this.#logger, 'upstream messages acknowledged without an event', ['unmapped_topic', 'unknown_serial', 'malformed'], every);
    this.#busTrouble = new ProblemTally(this.#logger, 'the bus did not take an upstream message; holding it', ['append_failed'], every);
  }

  /** Connects in the background: an upstream that is down at start is retried like one lost later. */
  start(): void {
    const client = connect(this.#settings.url, this.#clientOptions());
    this.#client = client;
    client.handleMessage = (packet, done) => this.#handleMessage(client, packet, done);
    client.on('connect', (connack) => this.#onConnect(client, connack));
    client.on('close', () => this.#onClose(client));
    client.on('error', (err) => {
      this.#lastError = err.message;
      this.#logger.warn({ err: { message: err.message }, broker: this.#broker() }, 'upstream connection error');
    });
    if (this.#settings.heartbeat) {
      const { topic, everySeconds } = this.#settings.heartbeat;
      this.#heartbeatTimer = setInterval(() => {
        if (client.connected) client.publish(topic, JSON.stringify({ uptime: Math.floor(process.uptime()) }), { qos: 0 });
      }, everySeconds * 1000);
    }
  }

  /**
   * Stops taking messages: the one being stored finishes (and is acknowledged if it reached the bus), then the client
   * disconnects cleanly. The upstream session stays (session expiry), so what arrives meanwhile waits upstream.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeatTimer);
    this.#wake?.();
    await this.#inProgress;
    await this.#client?.endAsync(false).catch(() => {});
    this.#refusals.close();
    this.#busTrouble.close();
  }

  status(): UplinkStatus {
    return {
      broker: this.#broker(),
      client_id: this.#settings.clientId,
      connected: this.#client?.connected ?? false,
      subscribed: this.#subscribed,
      ...(this.#connectedSince ? { connected_since: this.#connectedSince.toISOString() } : {}),
      ...(this.#lastMessageAt ? { last_message_at: this.#lastMessageAt.toISOString() } : {}),
      ...(this.#lastError === undefined ? {} : { last_error: this.#lastError }),
      reconnect_attempts: this.#attempts,
      reconnects: this.#reconnects,
      reconnect_delays_ms: [...this.#delays],
      messages: { ...this.#counts, refused: this.#refusals.totals() },
    };
  }

  #clientOptions(): IClientOptions {
    const s = this.#settings;
    return {
      protocolVersion: s.protocolVersion,
      clientId: s.clientId,
      // A persistent session: subscriptions and unacknowledged QoS 1 messages survive a lost connection.
      clean: false,
      keepalive: s.keepaliveSeconds,
      reconnectPeriod: 0,
      reconnectOnConnackError: true,
      connectTimeout: 15_000,
      // Subscriptions are made on every connection (below), whether or not the broker kept the session.
      resubscribe: false,
      ...(s.protocolVersion === 5 ? { properties: { sessionExpiryInterval: s.sessionExpirySeconds } } : {}),
      ...(s.username === undefined ? {} : { username: s.username }),
      ...(s.password === undefined ? {} : { password: s.password }),
      ...(s.ca ? { ca: s.ca } : {}),
      ...(s.cert ? { cert: s.cert } : {}),
      ...(s.key ? { key: s.key } : {}),
      rejectUnauthorized: true,
    };
  }

  #broker(): string {
    const url = new URL(this.#settings.url);
    url.username = '';
    url.password = '';
    return url.toString();
  }

  #onConnect(client: MqttClient, connack: IConnackPacket): void {
    this.#connection += 1;
    this.#attempts = 0;
    this.#connectedSince = new Date();
    this.#lastError = undefined;
    this.#logger.info({ broker: this.#broker(), session_present: connack.sessionPresent }, 'connected upstream');
    const connection = this.#connection;
    const filters = this.#settings.patterns.map((p) => (this.#settings.shareGroup ? `$share/${this.#settings.shareGroup}/${p.filter}` : p.filter));
    // Retain handling 1: retained messages only for a subscription the session did not have already.
    client.subscribe(filters, { qos: 1, rh: 1 }, (err, granted) => {
      if (connection !== this.#connection) return;
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (err || refused.length > 0) {
        this.#lastError = err ? err.message : `subscription refused: ${refused.join(', ')}`;
        this.#logger.error({ err: err ? { message: err.message } : undefined, refused }, 'upstream subscription failed');
        return;
      }
      this.#subscribed = true;
    });
  }

  #onClose(client: MqttClient): void {
    const wasConnected = this.#connectedSince !== undefined;
    this.#connection += 1;
    this.#connectedSince = undefined;
    this.#subscribed = false;
    this.#wake?.();
    if (this.#stopping) return;
    if (wasConnected) this.#logger.warn({ broker: this.#broker() }, 'upstream connection lost; reconnecting');
    if (this.#reconnectTimer) return;
    this.#attempts += 1;
    this.#reconnects += 1;
    const delay = backoffDelay(this.#attempts, this.#settings.reconnect, this.#random);
    this.#delays.push(delay);
    if (this.#delays.length > 10) this.#delays.shift();
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#stopping) client.reconnect();
    }, delay);
  }

  #acknowledgeable(client: MqttClient, connection: number): boolean {
    return connection === this.#connection && client.connected;
  }

  #handleMessage(client: MqttClient, packet: IPublishPacket, done: (error?: Error) => void): void {
    const connection = this.#connection;
    if (this.#stopping) {
      // Packets already read from the socket when stop() began: the broker redelivers them next time.
      this.#counts.left_for_redelivery += 1;
      done(new Error('the uplink is stopping'));
      return;
    }
    this.#counts.received += 1;
    this.#lastMessageAt = new Date();
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;
    const packetId = packet.qos > 0 ? packet.messageId : undefined;
    if (packetId !== undefined && packet.dup && this.#wasAcknowledged(packetId, packet.topic, payload)) {
      // Stored and acknowledged already; the PUBACK was lost with the connection. Acknowledged again, no new event.
      this.#counts.resends_acknowledged += 1;
      done();
      return;
    }
    // A message this uplink did not acknowledge, sent again: the same event, so the stream stores it once.
    let held = packetId === undefined ? undefined : this.#unacknowledged.repeated(upstreamSession, packetId, packet.topic, payload);
    if (!held) {
      const outcome = uplinkMessageEvent(
        { topic: packet.topic, payload },
        { tenant: this.#settings.tenant, patterns: this.#settings.patterns, bySerial: (t, serial) => this.#directory.bySerial(t, serial) },
      );
      if (outcome.kind !== 'event') {
        this.#refusals.note(outcome.kind, { topic: packet.topic, ...(outcome.kind === 'malformed' ? { device_id: outcome.deviceId, problem: outcome.problem } : {}) });
        done();
        return;
      }
      held = { topic: packet.topic, payload, subject: outcome.subject, event: outcome.event, receivedAt: Date.now(), storing: undefined };
      if (packetId !== undefined) this.#unacknowledged.hold(upstreamSession, packetId, held);
    }
    const message = held;
    const release = () => {
      if (packetId !== undefined) this.#unacknowledged.release(upstreamSession, packetId, message);
    };
    this.#unacknowledged.sweep(Date.now());
    const work = this.#store(client, connection, message.subject, message.event).then(
      (stored) => {
        if (stored === 'refused') {
          release();
          this.#refusals.note('malformed', { topic: packet.topic, problem: 'refused by the event schema' });
          done();
        } else if (stored === 'stored' && this.#acknowledgeable(client, connection)) {
          release();
          if (packetId !== undefined) this.#acknowledged.set(packetId, { topic: packet.topic, digest: digestOf(payload), at: Date.now() });
          this.#counts.appended += 1;
          if (packetId !== undefined) this.#counts.acknowledged += 1;
          done();
        } else {
          // Not on the bus, or stored but the connection it came on is gone: a PUBACK now would go out on another
          // connection, where the same packet identifier may name another message. Kept unacknowledged: the broker
          // sends it again, and it gets the same event (above).
          if (stored === 'stored') this.#counts.appended += 1;
          this.#counts.left_for_redelivery += 1;
          done(new Error('not acknowledged: left to the upstream broker to redeliver'));
        }
      },
      (err: unknown) => {
        this.#counts.left_for_redelivery += 1;
        this.#logger.error({ err }, 'could not handle an upstream message');
        done(err instanceof Error ? err : new Error(String(err)));
      },
    );
    // mqtt.js hands over one message at a time, so there is at most one in progress.
    this.#inProgress = work;
  }

  #wasAcknowledged(packetId: number, topic: string, payload: Uint8Array): boolean {
    const acknowledged = this.#acknowledged.get(packetId);
    return acknowledged !== undefined && acknowledged.topic === topic && Date.now() - acknowledged.at < resendMemoryMs && acknowledged.digest === digestOf(payload);
  }

  /** Appends until the bus takes the event, or there is no point: the connection it came on is gone, or stopping. */
  async #store(client: MqttClient, connection: number, subject: string, event: AnyEnvelope): Promise<Stored> {
    for (let attempt = 1; ; attempt++) {
      try {
        await append(this.#bus, subject, event);
        return 'stored';
      } catch (err) {
        if (err instanceof InvalidEventError) return 'refused';
        if (this.#stopping || !this.#acknowledgeable(client, connection)) return 'abandoned';
        this.#counts.append_retries += 1;
        this.#busTrouble.note('append_failed', { subject, error: err instanceof Error ? err.message : String(err) });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffDelay(attempt, this.#appendRetry, this.#random));
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        if (this.#stopping || !this.#acknowledgeable(client, connection)) return 'abandoned';
      }
    }
  }
}
