// Home Assistant discovery against a real Mosquitto: retained configs on the documented topics,
// announced again when Home Assistant comes online, removable.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryTopic, removeDiscovery, startDiscovery } from '../../src/events/home-assistant.js';
import { Mosquitto, PASSWORD, testPublisher, USER } from '../helpers/mosquitto.js';
import { until } from '../helpers/wait.js';

let broker: Mosquitto;
beforeAll(async () => {
  broker = await Mosquitto.start();
});
afterAll(async () => {
  await broker.stop();
});

describe('Home Assistant discovery', () => {
  it('publishes retained sensor configs per camera, again when Home Assistant comes online', async () => {
    const { publisher, outbox, close } = testPublisher(broker);

    const o = {
      discoveryPrefix: 'homeassistant',
      deviceId: 'gw1',
      deviceName: 'Front gateway',
      version: '0.1.0',
    };
    startDiscovery(publisher, o, ['front door', 'garage']);
    await until('published', () => outbox.size === 0 && publisher.stats.published >= 2, 60_000);

    // A Home Assistant that starts later still finds the retained configs.
    const ha = mqtt.connect(broker.url, { username: USER, password: PASSWORD });
    const got = new Map<string, string>();
    ha.on('message', (t, p) => got.set(t, p.toString()));
    await new Promise((r) => ha.once('connect', r));
    await ha.subscribeAsync('homeassistant/sensor/#');
    await until('retained configs', () => got.size === 2, 60_000);
    expect(discoveryTopic(o, 'front door')).toBe(
      'homeassistant/sensor/facegate_gw1/front_door_person/config',
    );
    const config = JSON.parse(
      got.get('homeassistant/sensor/facegate_gw1/front_door_person/config')!,
    ) as Record<string, unknown>;
    expect(config).toMatchObject({
      unique_id: 'facegate_gw1_front_door_person',
      state_topic: 'facegate/gw1/cameras/front_door/match',
      json_attributes_topic: 'facegate/gw1/cameras/front_door/match',
      value_template: '{{ value_json.person.name }}',
      availability_topic: 'facegate/gw1/status',
      payload_available: 'online',
    });

    // Home Assistant restarts: announced again.
    const before = publisher.stats.published;
    await ha.publishAsync('homeassistant/status', 'online');
    await until('re-announced', () => publisher.stats.published >= before + 2, 60_000);

    removeDiscovery(publisher, o, 'garage');
    await until(
      'removed',
      () => got.get('homeassistant/sensor/facegate_gw1/garage_person/config') === '',
      5000,
    );
    await ha.endAsync();
    await close();
  });
});
