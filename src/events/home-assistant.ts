// Home Assistant MQTT discovery (optional): per camera, a sensor whose state is the last
// recognised person's name and whose attributes are the whole match event, available while
// facegate's status topic says online. Configs are retained, and announced again whenever Home
// Assistant says `online` on homeassistant/status (it forgets unretained state on restart).
import type { MqttPublisher } from './publisher.js';
import { topicSegment } from './topics.js';

export type DiscoveryOptions = {
  discoveryPrefix: string;
  deviceId: string;
  deviceName: string;
  version: string;
};

export function discoveryTopic(o: DiscoveryOptions, camera: string): string {
  return `${o.discoveryPrefix}/sensor/facegate_${topicSegment(o.deviceId)}/${topicSegment(camera)}_person/config`;
}

export function discoveryConfig(o: DiscoveryOptions, publisher: MqttPublisher, camera: string) {
  const matchTopic = publisher.topics.match(camera);
  return {
    name: `${camera} last recognised person`,
    unique_id: `facegate_${topicSegment(o.deviceId)}_${topicSegment(camera)}_person`,
    state_topic: matchTopic,
    value_template: '{{ value_json.person.name }}',
    json_attributes_topic: matchTopic,
    availability_topic: publisher.topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    icon: 'mdi:face-recognition',
    device: {
      identifiers: [`facegate_${topicSegment(o.deviceId)}`],
      name: o.deviceName,
      manufacturer: 'facegate',
      model: 'facegate',
      sw_version: o.version,
    },
  };
}

/** Announces every camera now and whenever Home Assistant comes online. */
export function startDiscovery(
  publisher: MqttPublisher,
  o: DiscoveryOptions,
  cameras: readonly string[],
): void {
  const announce = () => {
    for (const camera of cameras)
      publisher.publish('discovery', discoveryTopic(o, camera), discoveryConfig(o, publisher, camera), true);
  };
  publisher.onMessage(`${o.discoveryPrefix}/status`, (payload) => {
    if (payload.toString() === 'online') announce();
  });
  announce();
}

/** Removes a camera's entity: an empty retained config. */
export function removeDiscovery(publisher: MqttPublisher, o: DiscoveryOptions, camera: string): void {
  publisher.publish('discovery', discoveryTopic(o, camera), '', true);
}
