// The MQTT side: one connection per device (mqtt:// or mqtts://, user and password, CA, client
// certificate, MQTT 5), a retained status with a last will, and the outbox drained in order with
// QoS 1. At most `window` events are handed to mqtt.js at a time; mqtt.js resends those after a
// reconnect, and an event leaves the outbox only when its PUBACK arrives. publish() never throws
// into the pipeline: a failure is logged and counted.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { redactUrl } from '../camera/url.js';
import { readConfiguredFile } from '../config/files.js';
import { FacegateError } from '../errors.js';
import { Outbox } from './outbox.js';
import { topics, type Topics } from './topics.js';

export type MqttOptions = {
  url: string;
  deviceId: string;
  prefix: string;
  username?: string;
  /** Read from a file (systemd credentials) or FACEGATE_MQTT_PASSWORD; never from a command line. */
  password?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  protocolVersion: 4 | 5;
  /**
   * First wait between connection attempts; doubles (with +-20% jitter) while they fail, up to
   * 32x or MAX_RECONNECT_WAIT_MS, whichever is less.
   */
  reconnectMs: number;
  /**
   * Events (not retained state) older than this when their turn to be sent comes are dropped and
   * counted as expired: after an outage a door must not act on what happened minutes ago. 0:
   * never.
   */
  maxEventAgeMs: number;
  connectTimeoutMs: number;
  /** Events handed to the client at once; the rest wait in the outbox. */
  window: number;
};

export type PublisherStats = {
  published: number;
  /** Reconnection attempts since start. */
  attempts: number;
  failedWrites: number;
  dropped: Record<string, number>;
  /** Events not sent because they were older than maxEventAgeMs, per kind. */
  expired: Record<string, number>;
  queued: number;
  connected: boolean;
  lastError: string | undefined;
};

type Log = (level: 'info' | 'warn' | 'error', message: string) => void;

/**
 * The longest wait between connection attempts: a broker back after an outage is reached within
 * this, so the events of the last seconds before it still reach a door controller fresh (the
 * example refuses events older than 30 s).
 */
export const MAX_RECONNECT_WAIT_MS = 10_000;

/**
 * The wait before the next connection attempt after one failed: double the last, up to 32x the
 * first or MAX_RECONNECT_WAIT_MS, whichever is less, +-20% jitter so gateways that lost the same
 * broker do not all come back at once. `random` in [0, 1).
 */
export function nextReconnectWait(last: number, first: number, random = Math.random()): number {
  const next = Math.min(first * 32, MAX_RECONNECT_WAIT_MS, last * 2);
  return Math.round(next * (0.8 + 0.4 * random));
}

export class MqttPublisher {
  readonly topics: Topics;
  private client: MqttClient | undefined;
  private lastHanded = 0;
  private inFlight = 0;
  private published = 0;
  private failedWrites = 0;
  private lastError: string | undefined;
  private readonly subscriptions = new Map<string, (payload: Buffer) => void>();
  private attempts = 0;
  private readonly expired = new Map<string, number>();

  constructor(
    private readonly options: MqttOptions,
    private readonly outbox: Outbox,
    private readonly log: Log = () => undefined,
  ) {
    this.topics = topics(options.prefix);
    const scheme = /^([a-z]+):\/\//.exec(options.url)?.[1];
    if (scheme !== 'mqtt' && scheme !== 'mqtts') {
      throw new FacegateError(
        'CONFIG_INVALID',
        `mqtt.url ${options.url.replace(/\/\/[^@/]*@/, '//***@')}: use mqtt:// or mqtts://`,
      );
    }
  }

  /** Connects (and keeps reconnecting); resolves at once, the connection comes when it can. */
  start(): void {
    const o = this.options;
    const read = (file: string | undefined, what: string) =>
      file ? readConfiguredFile(file, `mqtt.${what}`) : undefined;
    const ca = read(o.caFile, 'caFile');
    const cert = read(o.certFile, 'certFile');
    const key = read(o.keyFile, 'keyFile');
    const options: IClientOptions = {
      clientId: `facegate-${o.deviceId}`, // stable: the broker knows the device across restarts
      protocolVersion: o.protocolVersion,
      clean: true,
      reconnectPeriod: o.reconnectMs,
      connectTimeout: o.connectTimeoutMs,
      queueQoSZero: false,
      // A refused CONNACK (bad password, not authorised) is retried too: credentials get fixed
      // on the broker side without restarting every gateway.
      reconnectOnConnackError: true,
      will: { topic: this.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    };
    const client = mqtt.connect(o.url, options);
    this.client = client;
    /** Set while reconnecting in 3.1.1 after an MQTT 5 refusal: that 'offline' is expected. */
    let fallingBack = false;
    // mqtt.js retries at a fixed period; back off instead, so a broker that refuses us (bad
    // password, TLS) or is down is not hammered, and reset once connected.
    client.on('close', () => {
      client.options.reconnectPeriod = nextReconnectWait(client.options.reconnectPeriod!, o.reconnectMs);
    });
    client.on('reconnect', () => this.attempts++);
    client.on('connect', () => {
      client.options.reconnectPeriod = o.reconnectMs;
      fallingBack = false;
      this.lastError = undefined;
      this.log('info', `mqtt: connected to ${this.redactedUrl}`);
      client.publish(this.topics.status, 'online', { qos: 1, retain: true });
      for (const topic of this.subscriptions.keys())
        void client.subscribeAsync(topic, { qos: 1 }).catch(() => undefined);
      this.pump();
    });
    client.on('message', (topic, payload) => {
      try {
        this.subscriptions.get(topic)?.(payload);
      } catch (err) {
        this.log('error', `mqtt: handler for ${topic} failed: ${(err as Error).message}`);
      }
    });
    client.on('error', (err) => {
      // A 3.1.1-only broker (aedes, old Mosquitto) refuses MQTT 5 (CONNACK code 1, or 0x84 from
      // some): fall back. The broker is there and answering, so the next try need not wait, and
      // the refusal is not a problem to warn about.
      const code = (err as Error & { code?: number }).code;
      if (client.options.protocolVersion === 5 && (code === 1 || code === 132)) {
        this.log('info', `mqtt: ${this.redactedUrl} does not speak MQTT 5; using 3.1.1`);
        client.options.protocolVersion = 4;
        client.options.reconnectPeriod = 50;
        fallingBack = true;
        return;
      }
      // Bad credentials, TLS failures, refused connections: said once per change, retried.
      if (err.message !== this.lastError) this.log('warn', `mqtt: ${this.redactedUrl}: ${err.message}`);
      this.lastError = err.message;
    });
    client.on('offline', () => {
      if (fallingBack) fallingBack = false;
      else
        this.log(
          'warn',
          `mqtt: ${this.redactedUrl} offline; events wait in the outbox (${this.outbox.size})`,
        );
    });
  }

  get redactedUrl(): string {
    return redactUrl(this.options.url);
  }

  /** Calls `handler` for messages on `topic` (an exact topic), subscribing on every connect. */
  onMessage(topic: string, handler: (payload: Buffer) => void): void {
    this.subscriptions.set(topic, handler);
    if (this.client?.connected) void this.client.subscribeAsync(topic, { qos: 1 }).catch(() => undefined);
  }

  /** Stores an event in the outbox and sends it when it can. Never throws. */
  publish(kind: string, topic: string, payload: Buffer | string | object, retain = false): void {
    try {
      const body =
        typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
      const { droppedKind } = this.outbox.add(kind, topic, body, retain);
      if (droppedKind)
        this.log(
          'error',
          `mqtt: outbox full (${this.outbox.size}): dropped the oldest event, a ${droppedKind}`,
        );
      this.pump();
    } catch (err) {
      this.failedWrites++;
      this.log('error', `mqtt: could not store a ${kind} event for ${topic}: ${(err as Error).message}`);
    }
  }

  private pump(): void {
    const client = this.client;
    if (!client?.connected) return;
    const free = this.options.window - this.inFlight;
    if (free <= 0) return;
    const maxAge = this.options.maxEventAgeMs;
    const expired = new Map<string, number>();
    for (const row of this.outbox.after(this.lastHanded, free)) {
      this.lastHanded = row.id;
      if (maxAge > 0 && !row.retain && Date.now() - row.createdAt > maxAge) {
        this.outbox.remove(row.id);
        expired.set(row.kind, (expired.get(row.kind) ?? 0) + 1);
        this.expired.set(row.kind, (this.expired.get(row.kind) ?? 0) + 1);
        continue;
      }
      this.inFlight++;
      client.publish(row.topic, row.payload, { qos: 1, retain: row.retain }, (err) => {
        this.inFlight--;
        if (err) {
          // Not acknowledged (the client gave up on it): hand it out again on the next pump;
          // a duplicate is what QoS 1 allows, a loss is not.
          this.lastError = err.message;
          this.lastHanded = Math.min(this.lastHanded, row.id - 1);
          return;
        }
        this.outbox.remove(row.id);
        this.published++;
        this.pump();
      });
    }
    if (expired.size) {
      const what = [...expired].map(([kind, n]) => `${n} ${kind}`).join(', ');
      this.log('warn', `mqtt: not sent, older than ${maxAge / 1000} s: ${what}`);
      // What came after them may be fresh: go on with it.
      if (this.inFlight < this.options.window) setImmediate(() => this.pump());
    }
  }

  get stats(): PublisherStats {
    return {
      published: this.published,
      attempts: this.attempts,
      failedWrites: this.failedWrites,
      dropped: Object.fromEntries(this.outbox.dropped),
      expired: Object.fromEntries(this.expired),
      queued: this.outbox.size,
      connected: this.client?.connected ?? false,
      lastError: this.lastError,
    };
  }

  /** Publishes 'offline' (a clean stop is not a crash, but subscribers must know) and disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) =>
        client.publish(this.topics.status, 'offline', { qos: 1, retain: true }, () => resolve()),
      );
    }
    await client.endAsync();
  }
}
