// Home Assistant discovery against a real Mosquitto: a retained config per entity, each valid in
// Home Assistant's schema for its kind, announced again when Home Assistant comes online, and
// removed (an empty retained config) when its camera, door or person is gone, also across a
// restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HomeAssistantDiscovery, type DiscoveredThings } from '../../src/events/home-assistant.js';
import { HOME_ASSISTANT_SCHEMAS } from '../helpers/home-assistant-schemas.js';
import { Mosquitto, PASSWORD, testPublisher, USER } from '../helpers/mosquitto.js';
import { until } from '../helpers/wait.js';

let broker: Mosquitto;
const dir = mkdtempSync(join(tmpdir(), 'fg-ha-'));
beforeAll(async () => {
  broker = await Mosquitto.start();
});
afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

const o = {
  discoveryPrefix: 'homeassistant',
  deviceId: 'gw1',
  deviceName: 'Front gateway',
  version: '0.1.0',
  presenceSeconds: 300,
};

describe('Home Assistant discovery', () => {
  it('announces each entity valid in its schema, again when Home Assistant comes online, and removes those gone', async () => {
    const { publisher, close } = testPublisher(broker);
    const ha = mqtt.connect(broker.url, { username: USER, password: PASSWORD });
    const got = new Map<string, string>();
    ha.on('message', (t, p) => got.set(t, p.toString()));
    await new Promise((r) => ha.once('connect', r));
    await ha.subscribeAsync('homeassistant/+/facegate_gw1/+/config');
    let things: DiscoveredThings = {
      cameras: ['front door'],
      doors: ['front'],
      people: [
        { id: 'ann', name: 'Ann' },
        { id: 'bob', name: 'Bob' },
      ],
    };
    const file = join(dir, 'announced.json');
    const discovery = new HomeAssistantDiscovery(publisher, o, () => things, file);
    discovery.start();
    const expected = [
      'sensor/facegate_gw1/front_door_person',
      'event/facegate_gw1/front_door_match',
      'event/facegate_gw1/front_door_unknown',
      'image/facegate_gw1/front_door_face',
      'event/facegate_gw1/door_front',
      'binary_sensor/facegate_gw1/person_ann',
      'binary_sensor/facegate_gw1/person_bob',
    ].map((t) => `homeassistant/${t}/config`);
    await until('every config', () => expected.every((t) => got.has(t)), 30_000);
    expect([...got.keys()].sort()).toEqual([...expected].sort());
    for (const [topic, text] of got) {
      const component = topic.split('/')[1]!;
      const config = JSON.parse(text) as Record<string, unknown>;
      const errors = [...Value.Errors(HOME_ASSISTANT_SCHEMAS[component]!, config)].map(
        (e) => `${e.path} ${e.message}`,
      );
      expect(errors, topic).toEqual([]);
      expect(config).toMatchObject({
        availability_topic: 'facegate/gw1/status',
        device: { identifiers: ['facegate_gw1'] },
      });
    }
    const config = (t: string) =>
      JSON.parse(got.get(`homeassistant/${t}/config`)!) as Record<string, unknown>;
    expect(config('event/facegate_gw1/door_front')).toMatchObject({
      state_topic: 'facegate/gw1/doors/front/access',
      event_types: ['granted', 'denied'],
    });
    expect(config('image/facegate_gw1/front_door_face')).toMatchObject({
      image_topic: 'facegate/gw1/last_face/front_door',
      content_type: 'image/jpeg',
    });
    expect(config('binary_sensor/facegate_gw1/person_ann')).toMatchObject({
      state_topic: 'facegate/gw1/people/ann/presence',
      off_delay: 300,
      device_class: 'presence',
    });

    // Home Assistant restarts: announced again.
    got.clear();
    await ha.publishAsync('homeassistant/status', 'online');
    await until('re-announced', () => expected.every((t) => got.has(t)), 30_000);

    // Bob leaves the gallery: his presence entity goes.
    things = { ...things, people: [{ id: 'ann', name: 'Ann' }] };
    discovery.update();
    await until(
      'bob removed',
      () => got.get('homeassistant/binary_sensor/facegate_gw1/person_bob/config') === '',
      30_000,
    );
    // Restarted without the door: the file says it was announced, so it goes too.
    things = { ...things, doors: [] };
    new HomeAssistantDiscovery(publisher, o, () => things, file).update();
    await until(
      'door removed',
      () => got.get('homeassistant/event/facegate_gw1/door_front/config') === '',
      30_000,
    );
    expect(JSON.parse(got.get('homeassistant/binary_sensor/facegate_gw1/person_ann/config')!)).toMatchObject({
      name: 'Ann present',
    });
    await ha.endAsync();
    await close();
  });
});
