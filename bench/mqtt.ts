// `make bench` (MQTT part): events per second from publish() through the SQLite outbox into a
// real Mosquitto and back out as PUBACKs, with and without fsync on each outbox write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../src/events/outbox.js';
import { MqttPublisher } from '../src/events/publisher.js';
import { Mosquitto, PASSWORD, USER } from '../test/helpers/mosquitto.js';
import { Table } from './harness.js';

export async function benchMqtt(events = 3000): Promise<string> {
  const broker = await Mosquitto.start();
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-mqtt-'));
  const table = new Table(['outbox writes', 'events', 'events per second', 'ms per event']);
  try {
    for (const fsync of [true, false]) {
      const outbox = new Outbox(join(dir, `outbox-${fsync}.sqlite`), { maxEvents: 1_000_000, fsync });
      const publisher = new MqttPublisher(
        {
          url: broker.url,
          deviceId: 'bench',
          prefix: 'facegate/bench',
          username: USER,
          password: PASSWORD,
          protocolVersion: 5,
          reconnectMs: 200,
          maxEventAgeMs: 0,
          connectTimeoutMs: 2000,
          window: 100,
        },
        outbox,
      );
      publisher.start();
      while (!publisher.stats.connected) await new Promise((r) => setTimeout(r, 10));
      const body = {
        event_id: '',
        camera: 'door',
        person: { id: 'ann', name: 'Ann' },
        distance: 0.3,
        padding: 'x'.repeat(400),
      };
      const t0 = performance.now();
      for (let i = 0; i < events; i++)
        publisher.publish('match', 'facegate/bench/cameras/door/match', { ...body, event_id: String(i) });
      while (publisher.stats.queued > 0) await new Promise((r) => setImmediate(r));
      const ms = performance.now() - t0;
      table.add(
        fsync ? 'fsync each (synchronous=FULL)' : 'no fsync (synchronous=NORMAL, WAL)',
        events,
        ((events * 1000) / ms).toFixed(0),
        (ms / events).toFixed(3),
      );
      await publisher.stop();
      outbox.close();
    }
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return table.toString();
}

if (process.argv[1] === import.meta.filename) console.log(await benchMqtt());
