// The MQTT publisher against a real Mosquitto: an outage in the middle of 1,000 events, a SIGKILL
// with 100 events in the outbox, bad credentials and TLS, the last will.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/events/embedded-broker.js';
import { Outbox } from '../../src/events/outbox.js';
import { MqttPublisher, nextReconnectWait, type MqttOptions } from '../../src/events/publisher.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { Mosquitto, PASSWORD, USER } from '../helpers/mosquitto.js';
import { sleep, until } from '../helpers/wait.js';

let broker: Mosquitto;
let dir: string;
const cleanup: (() => Promise<unknown> | void)[] = [];
beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = mkdtempSync(join(tmpdir(), 'fg-mqtt-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

function options(extra: Partial<MqttOptions> = {}): MqttOptions {
  return {
    url: broker.url,
    deviceId: 'test',
    prefix: 'facegate/test',
    username: USER,
    password: PASSWORD,
    protocolVersion: 5,
    reconnectMs: 500,
    maxEventAgeMs: 0,
    connectTimeoutMs: 2000,
    window: 100,
    ...extra,
  };
}

function publisher(extra: Partial<MqttOptions> = {}, outboxPath = join(dir, `${Math.random()}.sqlite`)) {
  const outbox = new Outbox(outboxPath, { maxEvents: 100_000, fsync: false });
  const logs: string[] = [];
  const p = new MqttPublisher(options(extra), outbox, (level, m) => logs.push(`${level} ${m}`));
  p.start();
  cleanup.push(async () => {
    await p.stop();
    outbox.close();
  });
  return { p, outbox, logs };
}

async function subscriber(
  topic: string,
): Promise<{ client: MqttClient; messages: { topic: string; payload: string }[] }> {
  // A persistent session: the broker queues QoS 1 messages for it while it reconnects.
  const client = mqtt.connect(broker.url, {
    username: USER,
    password: PASSWORD,
    reconnectPeriod: 100,
    protocolVersion: 5,
    clean: false,
    clientId: `sub-${Math.random().toString(36).slice(2)}`,
    properties: { sessionExpiryInterval: 300 },
  });
  const messages: { topic: string; payload: string }[] = [];
  client.on('message', (t, payload) => messages.push({ topic: t, payload: payload.toString() }));
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  await client.subscribeAsync(topic, { qos: 1 });
  // Resubscribe after a broker restart (the broker keeps no sessions).
  client.on('connect', () => void client.subscribeAsync(topic, { qos: 1 }));
  cleanup.push(() => client.endAsync());
  return { client, messages };
}

function child(...args: string[]) {
  return spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'test/events/publisher-child.ts'), ...args],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
}

async function line(c: ReturnType<typeof child>, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no ${re} from child: ${out}`)), 20_000);
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[0]);
      }
    });
  });
}

describe('MqttPublisher with a real Mosquitto', () => {
  it('delivers 1,000 events in order across a 10 s broker outage', async () => {
    const { messages } = await subscriber('facegate/test/cameras/+/match');
    const { p } = publisher({ reconnectMs: 1000 });
    await until('connected', () => p.stats.connected, 60_000);
    for (let i = 0; i < 500; i++) p.publish('match', 'facegate/test/cameras/door/match', { n: i });
    await until('first 500 delivered', () => new Set(messages.map((m) => m.payload)).size >= 500, 60_000);
    await broker.halt('SIGTERM'); // a clean broker stop keeps the subscriber's session
    for (let i = 500; i < 1000; i++) p.publish('match', 'facegate/test/cameras/door/match', { n: i });
    expect(p.stats.queued).toBe(500);
    await sleep(10_000);
    await broker.resume();
    await until('all 1,000 delivered', () => new Set(messages.map((m) => m.payload)).size >= 1000, 60_000);
    // In order, once duplicates (allowed by QoS 1) are removed.
    const firstSeen: number[] = [];
    const seen = new Set<number>();
    for (const m of messages) {
      const n = (JSON.parse(m.payload) as { n: number }).n;
      if (!seen.has(n)) {
        seen.add(n);
        firstSeen.push(n);
      }
    }
    expect(firstSeen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    await until('outbox empty', () => p.stats.queued === 0, 60_000);
  });

  it('names its broker in logs without the password in the URL', () => {
    const outbox = new Outbox(join(dir, `${Math.random()}.sqlite`), { maxEvents: 10, fsync: false });
    // Never connected: the test broker's own address, not a default port another broker may hold.
    const url = (auth: string) => `mqtt://${auth}${new URL(broker.url).host}/x`;
    const cases: [string, string][] = [
      ['u:s3cret@', 'u:***@'],
      ['u:p%2Fw%40rd@', 'u:***@'],
      ['u:@', 'u:***@'],
      ['u@', 'u@'],
      ['', ''],
    ];
    for (const [auth, shown] of cases)
      expect(new MqttPublisher(options({ url: url(auth) }), outbox).redactedUrl).toBe(url(shown));
    outbox.close();
  });

  it('waits between connection attempts as docs/configuration.md says: doubling, at most 32x or 10 s, +-20%', () => {
    const waits = (first: number, random: number) => {
      const out = [first];
      for (let i = 0; i < 8; i++) out.push(nextReconnectWait(out.at(-1)!, first, random));
      return out;
    };
    expect(waits(100, 0.5)).toEqual([100, 200, 400, 800, 1600, 3200, 3200, 3200, 3200]);
    // With the default 2 s: 4, 8, then 10 s however long the outage (it reached 32 s before).
    expect(waits(2000, 0.5)).toEqual([2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000]);
    expect(nextReconnectWait(10_000, 2000, 0)).toBe(8000);
    expect(nextReconnectWait(10_000, 2000, 0.999999)).toBe(12_000);
  });

  it('after an outage, drops and counts the events older than maxEventAgeMs, and sends retained state and fresh events', async () => {
    const { messages } = await subscriber('facegate/test/#');
    const { p, logs } = publisher({ reconnectMs: 200, maxEventAgeMs: 3000 });
    await until('connected', () => p.stats.connected, 60_000);
    await broker.halt('SIGTERM');
    await until('disconnected', () => !p.stats.connected, 20_000);
    p.publish('match', 'facegate/test/cameras/door/match', { n: 'old' });
    p.publish('unknown', 'facegate/test/cameras/door/unknown', { n: 'old' });
    p.publish('camera-status', 'facegate/test/cameras/door/status', { n: 'state' }, true);
    await sleep(4000); // the broker is away longer than maxEventAgeMs
    await broker.resume();
    // Back: the old events are dropped as they come up; what happens now is sent.
    await until('reconnected', () => p.stats.connected, 60_000);
    p.publish('match', 'facegate/test/cameras/door/match', { n: 'fresh' });
    await until('the fresh match delivered', () => messages.some((m) => m.payload.includes('fresh')), 60_000);
    await until('outbox empty', () => p.stats.queued === 0, 60_000);
    await sleep(500);
    const sent = messages.filter((m) => !m.topic.endsWith('/status') || m.topic.includes('cameras'));
    expect(sent.map((m) => m.payload)).toEqual([
      JSON.stringify({ n: 'state' }),
      JSON.stringify({ n: 'fresh' }),
    ]);
    expect(p.stats.expired).toEqual({ match: 1, unknown: 1 });
    expect(logs.join('\n')).toMatch(/not sent, older than 3 s: 1 match, 1 unknown/);
  });

  it('delivers the 100 events left in the outbox by a daemon killed with SIGKILL', async () => {
    await broker.halt();
    const outboxPath = join(dir, 'killed.sqlite');
    const c = child('store', outboxPath, broker.url, '100');
    expect(await line(c, /STORED \d+/)).toBe('STORED 100');
    c.kill('SIGKILL');
    await broker.resume();
    const { messages } = await subscriber('facegate/child/cameras/+/match');
    const { p } = publisher({}, outboxPath);
    await until('100 delivered', () => new Set(messages.map((m) => m.payload)).size >= 100, 60_000);
    await until('outbox empty', () => p.stats.queued === 0, 60_000);
  });

  it.each([
    ['a wrong password', () => ({ password: 'wrong' }), /Not authorized|Bad User Name or Password/i],
    [
      'a CA that did not sign the broker',
      () => ({ url: broker.tlsUrl, caFile: broker.caFile('other') }),
      /self[- ]signed|unable to verify|certificate/i,
    ],
    [
      'a plain client on the TLS port',
      () => ({ url: `mqtt://127.0.0.1:${broker.tlsPort}`, connectTimeoutMs: 1000 }),
      /.+/,
    ],
  ] as const)('reports %s clearly and keeps retrying, without crashing', async (_, extra, message) => {
    const { p, logs } = publisher({ ...extra(), reconnectMs: 300 });
    p.publish('match', 'facegate/test/cameras/door/match', { n: 1 });
    await sleep(3000);
    expect(p.stats.connected).toBe(false);
    expect(p.stats.queued).toBe(1); // kept for when the connection works
    // Backing off: 300, ~600, ~1200 ms... not a retry every 300 ms (which would be 9 or 10).
    expect(p.stats.attempts).toBeGreaterThanOrEqual(2);
    expect(p.stats.attempts).toBeLessThanOrEqual(5);
    expect(p.stats.lastError).toMatch(message);
    expect(logs.some((l) => l.startsWith('warn mqtt:'))).toBe(true);
    expect(logs.join('\n')).not.toContain(PASSWORD);
  });

  it('connects over TLS with the right CA', async () => {
    const { p } = publisher({ url: broker.tlsUrl, caFile: broker.caFile() });
    await until('connected over TLS', () => p.stats.connected, 60_000);
  });

  it('publishes online, and the broker publishes the last will when the connection is cut', async () => {
    const { messages } = await subscriber('facegate/child/status');
    const c = child('connect', join(dir, 'will.sqlite'), broker.url);
    await line(c, /CONNECTED/);
    await until('online', () => messages.some((m) => m.payload === 'online'), 60_000);
    c.kill('SIGKILL'); // no DISCONNECT packet: the broker sees the connection drop
    await until('last will', () => messages.at(-1)?.payload === 'offline', 60_000);
  });

  it('publishes offline before a clean stop', async () => {
    const { messages } = await subscriber('facegate/test/status');
    const { p } = publisher();
    await until('online', () => messages.some((m) => m.payload === 'online'), 60_000);
    await p.stop();
    await until('offline', () => messages.at(-1)?.payload === 'offline', 60_000);
  });
});

describe('MqttPublisher with a 3.1.1-only broker (aedes, as embedded)', () => {
  it('falls back from MQTT 5 on the refusal, without a warning, and delivers', async () => {
    const old = await EmbeddedBroker.start('127.0.0.1', 0);
    cleanup.push(() => old.stop());
    const watcher = await mqtt.connectAsync(old.url, { protocolVersion: 4 });
    cleanup.push(() => watcher.endAsync());
    const seen: string[] = [];
    watcher.on('message', (t, payload) => seen.push(`${t} ${payload.toString()}`));
    await watcher.subscribeAsync('facegate/test/#', { qos: 1 });
    const { p, logs } = publisher({ url: old.url, protocolVersion: 5 });
    p.publish('match', 'facegate/test/event', { n: 1 });
    await until('the event', () => seen.includes('facegate/test/event {"n":1}'), 60_000);
    expect(logs).toContain(`info mqtt: ${old.url} does not speak MQTT 5; using 3.1.1`);
    expect(logs.filter((l) => l.startsWith('warn'))).toEqual([]);
  });
});
