// Child process for publisher.test.ts. `store N`: publishes N events with the broker down and
// prints STORED once they are in the outbox; `connect`: prints CONNECTED once online. Either
// way it then waits to be killed.
import { Outbox } from '../../src/events/outbox.js';
import { MqttPublisher } from '../../src/events/publisher.js';
import { PASSWORD, USER } from '../helpers/mosquitto.js';

const [mode, outboxPath, url, count] = process.argv.slice(2) as [string, string, string, string];
const outbox = new Outbox(outboxPath, { maxEvents: 10_000, fsync: true });
const publisher = new MqttPublisher(
  {
    url,
    deviceId: 'child',
    prefix: 'facegate/child',
    username: USER,
    password: PASSWORD,
    protocolVersion: 5,
    reconnectMs: 200,
    maxEventAgeMs: 0,
    connectTimeoutMs: 2000,
    window: 50,
  },
  outbox,
);
publisher.start();
if (mode === 'store') {
  for (let i = 0; i < Number(count); i++)
    publisher.publish('match', 'facegate/child/cameras/door/match', {
      n: i,
      event_id: `e${String(i).padStart(5, '0')}`,
    });
  process.stdout.write(`STORED ${outbox.size}\n`);
} else {
  const timer = setInterval(() => {
    if (publisher.stats.connected) {
      process.stdout.write('CONNECTED\n');
      clearInterval(timer);
    }
  }, 20);
}
setInterval(() => undefined, 1000);
