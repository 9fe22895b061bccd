// A real Mosquitto for the MQTT tests: on 127.0.0.1, free ports, a password file, a plain and a
// TLS listener with a test CA made here by openssl. Stop and start it again on the same ports to
// play a broker outage.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import mqtt from 'mqtt';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../src/events/outbox.js';
import { MqttPublisher } from '../../src/events/publisher.js';
import { makeTestCa } from './tls.js';

export const USER = 'facegate';
export const PASSWORD = 'door-secret';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export class Mosquitto {
  private child: ChildProcess | undefined;
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly tlsPort: number,
  ) {}

  static async start(): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-mosquitto-'));
    makeTestCa(dir);
    execFileSync('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), USER, PASSWORD]);
    const m = new Mosquitto(dir, await freePort(), await freePort());
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        'per_listener_settings false',
        'allow_anonymous false',
        `password_file ${join(dir, 'passwd')}`,
        // Sessions survive a clean broker restart, so a subscriber misses nothing while it is down.
        'persistence true',
        `persistence_location ${dir}/`,
        'user root',
        `log_dest file ${join(dir, 'mosquitto.log')}`,
        `listener ${m.port} 127.0.0.1`,
        `listener ${m.tlsPort} 127.0.0.1`,
        `cafile ${join(dir, 'ca.crt')}`,
        `certfile ${join(dir, 'server.crt')}`,
        `keyfile ${join(dir, 'server.key')}`,
        'tls_version tlsv1.2',
        '',
      ].join('\n'),
    );
    await m.resume();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  caFile(which: 'ca' | 'other' = 'ca'): string {
    return join(this.dir, `${which}.crt`);
  }

  /** Starts (again) on the same ports; resolves when both listeners are open. */
  async resume(): Promise<void> {
    writeFileSync(join(this.dir, 'mosquitto.log'), '');
    this.child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    const t0 = Date.now();
    for (;;) {
      const log = readFileSync(join(this.dir, 'mosquitto.log'), 'utf8');
      if ((log.match(/Opening ipv4 listen socket on port/g) ?? []).length >= 2) return;
      if (this.child.exitCode !== null) throw new Error(`mosquitto exited: ${log}`);
      if (Date.now() - t0 > 30_000) throw new Error(`mosquitto not ready: ${log}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A broker outage. */
  async halt(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.halt('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A publisher for device `gw1` (prefix facegate/gw1) on this broker, with an in-memory outbox. */
export function testPublisher(broker: Mosquitto): {
  publisher: MqttPublisher;
  outbox: Outbox;
  close: () => Promise<void>;
} {
  const outbox = new Outbox(':memory:', { maxEvents: 1000, fsync: false });
  const publisher = new MqttPublisher(
    {
      url: broker.url,
      deviceId: 'gw1',
      prefix: 'facegate/gw1',
      username: USER,
      password: PASSWORD,
      protocolVersion: 5,
      reconnectMs: 200,
      maxEventAgeMs: 0,
      connectTimeoutMs: 2000,
      window: 10,
    },
    outbox,
  );
  publisher.start();
  return {
    publisher,
    outbox,
    close: async () => {
      await publisher.stop();
      outbox.close();
    },
  };
}

/** Every JSON message on `topic` (a filter) from the broker, as a door controller would see them. */
export async function watchEvents(
  broker: Mosquitto,
  topic: string,
): Promise<{ events: { topic: string; payload: Record<string, unknown> }[]; end: () => Promise<void> }> {
  const watcher = mqtt.connect(broker.url, { username: USER, password: PASSWORD });
  const events: { topic: string; payload: Record<string, unknown> }[] = [];
  watcher.on('message', (t, p) =>
    events.push({ topic: t, payload: JSON.parse(p.toString()) as Record<string, unknown> }),
  );
  await new Promise((r) => watcher.once('connect', r));
  await watcher.subscribeAsync(topic, { qos: 1 });
  return { events, end: () => watcher.endAsync() };
}
