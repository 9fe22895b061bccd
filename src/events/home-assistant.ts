// Home Assistant MQTT discovery (optional). Entities, all on one facegate device and available
// while facegate's status topic says online:
//   - per camera: a sensor (the last recognised person's name, the match event as attributes),
//     `event` entities for match and unknown (what the camera decided, as it happens) and an
//     `image` of the last decision's face crop;
//   - per door: an `event` entity, granted or denied (the reason and person as attributes);
//   - per person in the gallery: a presence `binary_sensor`, on at each live match of theirs and
//     off `presenceSeconds` later.
// Configs are retained and announced again whenever Home Assistant says `online` on
// homeassistant/status. Entities of cameras, doors and people that are gone get an empty retained
// config, which removes them: what was announced is remembered in a file across restarts.
import { readFileSync, writeFileSync } from 'node:fs';
import type { MqttPublisher } from './publisher.js';
import { topicSegment } from './topics.js';

export type DiscoveryOptions = {
  discoveryPrefix: string;
  deviceId: string;
  deviceName: string;
  version: string;
  /** Seconds a person's presence stays on after their last live match. */
  presenceSeconds: number;
};

/** What facegate has, as Home Assistant should see it. */
export type DiscoveredThings = {
  cameras: readonly string[];
  doors: readonly string[];
  people: readonly { id: string; name: string }[];
};

export type DiscoveryEntity = {
  component: 'sensor' | 'event' | 'image' | 'binary_sensor';
  config: Record<string, unknown>;
};

/** Every entity's discovery topic and config. */
export function discoveryEntities(
  o: DiscoveryOptions,
  publisher: MqttPublisher,
  things: DiscoveredThings,
): Map<string, DiscoveryEntity> {
  const node = `facegate_${topicSegment(o.deviceId)}`;
  const common = {
    availability_topic: publisher.topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [node],
      name: o.deviceName,
      manufacturer: 'facegate',
      model: 'facegate',
      sw_version: o.version,
    },
  };
  const entities = new Map<string, DiscoveryEntity>();
  const add = (component: DiscoveryEntity['component'], object: string, config: Record<string, unknown>) =>
    entities.set(`${o.discoveryPrefix}/${component}/${node}/${object}/config`, {
      component,
      config: { ...config, unique_id: `${node}_${object}`, ...common },
    });
  for (const camera of things.cameras) {
    const c = topicSegment(camera);
    const match = publisher.topics.match(camera);
    add('sensor', `${c}_person`, {
      name: `${camera} last recognised person`,
      state_topic: match,
      value_template: '{{ value_json.person.name }}',
      json_attributes_topic: match,
      icon: 'mdi:face-recognition',
    });
    add('event', `${c}_match`, {
      name: `${camera} match`,
      state_topic: match,
      event_types: ['match'],
      value_template:
        "{{ {'event_type': 'match', 'person': value_json.person.name, 'live': value_json.liveness.live} | to_json }}",
      icon: 'mdi:account-check',
    });
    add('event', `${c}_unknown`, {
      name: `${camera} unknown face`,
      state_topic: publisher.topics.unknown(camera),
      event_types: ['unknown'],
      value_template: "{{ {'event_type': 'unknown'} | to_json }}",
      icon: 'mdi:account-question',
    });
    add('image', `${c}_face`, {
      name: `${camera} last face`,
      image_topic: publisher.topics.lastSnapshot(camera),
      content_type: 'image/jpeg',
    });
  }
  for (const door of things.doors) {
    add('event', `door_${topicSegment(door)}`, {
      name: `${door} door access`,
      state_topic: publisher.topics.access(door),
      event_types: ['granted', 'denied'],
      value_template:
        "{{ {'event_type': value_json.result, 'reason': value_json.reason, 'person': (value_json.person.name if value_json.person else none)} | to_json }}",
      icon: 'mdi:door',
    });
  }
  for (const person of things.people) {
    add('binary_sensor', `person_${topicSegment(person.id)}`, {
      name: `${person.name} present`,
      state_topic: publisher.topics.presence(person.id),
      payload_on: 'ON',
      payload_off: 'OFF',
      off_delay: o.presenceSeconds,
      device_class: 'presence',
    });
  }
  return entities;
}

/**
 * Announces the entities of `things()` now, whenever Home Assistant comes online, and when
 * update() is called (the gallery changed); removes those announced before that are gone.
 * `announcedFile` remembers what was announced, across restarts.
 */
export class HomeAssistantDiscovery {
  constructor(
    private readonly publisher: MqttPublisher,
    private readonly o: DiscoveryOptions,
    private readonly things: () => DiscoveredThings,
    private readonly announcedFile: string,
  ) {}

  /** The configs last announced, as JSON: an unchanged set is not announced again. */
  private announced: string | undefined;

  start(): void {
    this.publisher.onMessage(`${this.o.discoveryPrefix}/status`, (payload) => {
      if (payload.toString() === 'online') this.update(true); // it forgot them: all again
    });
    this.update();
  }

  /** Announces the entities when they changed since the last time, or always with `force`. */
  update(force = false): void {
    const entities = discoveryEntities(this.o, this.publisher, this.things());
    const json = JSON.stringify([...entities]);
    if (!force && json === this.announced) return;
    this.announced = json;
    for (const [topic, { config }] of entities) this.publisher.publish('discovery', topic, config, true);
    let before: string[] = [];
    try {
      before = JSON.parse(readFileSync(this.announcedFile, 'utf8')) as string[];
    } catch {
      // First start, or an unreadable file: nothing known to remove.
    }
    for (const topic of before)
      if (!entities.has(topic)) this.publisher.publish('discovery', topic, '', true);
    writeFileSync(this.announcedFile, JSON.stringify([...entities.keys()]), { mode: 0o600 });
  }
}
