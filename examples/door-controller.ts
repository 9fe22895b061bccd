// An example door controller: subscribes to facegate's match events, accepts an event only if
// its HMAC signature is valid, it is fresh (time within 30 s), it was not seen before and its
// track was found live (a head, not a photo held up: docs/liveness.md), then prints "unlock
// <person>". Anything else is printed as "refuse <reason>" and ignored.
//
//   node --import tsx examples/door-controller.ts mqtt://127.0.0.1:1883 facegate/gateway-1 KEY_FILE
//
// --allow-not-live also unlocks for matches whose liveness was off or not live (a camera whose
// liveness.mode is 'off' or 'report'): only where something else stops a photo.
// Set MQTT_USERNAME / MQTT_PASSWORD for a broker that needs them. Adapt the "unlock" line to
// your lock: this file is the template, not a lock driver.
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { verifyEvent } from '../src/events/signing.js';

const args = process.argv.slice(2);
const allowNotLive = args.includes('--allow-not-live');
const [url, prefix, keyFile] = args.filter((a) => a !== '--allow-not-live');
if (!url || !prefix || !keyFile) {
  console.error('usage: door-controller.ts [--allow-not-live] MQTT_URL TOPIC_PREFIX KEY_FILE');
  process.exit(2);
}
const key = readFileSync(keyFile);
const seen = new Set<string>(); // event ids of the last few minutes: replays are refused
const client = mqtt.connect(url, {
  ...(process.env.MQTT_USERNAME ? { username: process.env.MQTT_USERNAME } : {}),
  ...(process.env.MQTT_PASSWORD ? { password: process.env.MQTT_PASSWORD } : {}),
});
client.on('connect', () => {
  void client.subscribeAsync(`${prefix}/cameras/+/match`, { qos: 1 }).then(() => console.log('ready'));
});
client.on('message', (_topic, payload) => {
  let event: unknown;
  try {
    event = JSON.parse(payload.toString());
  } catch {
    console.log('refuse not json');
    return;
  }
  const verdict = verifyEvent(key, event, { maxAgeMs: 30_000, seen });
  if (!verdict.ok) {
    console.log(`refuse ${verdict.reason}`);
    return;
  }
  // Signed by facegate, so a match event with its documented fields.
  const match = event as {
    person: { id: string; name: string };
    camera: string;
    liveness?: { live: boolean | null; reason: string }; // absent in events of older versions
  };
  if (match.liveness?.live !== true && !allowNotLive) {
    console.log(`refuse not live (${match.liveness?.reason ?? 'no liveness verdict'})`);
    return;
  }
  console.log(`unlock ${match.person.id} (${match.person.name}) at ${match.camera}`);
});
