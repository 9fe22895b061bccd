// The gallery over MQTT: `<prefix>/gallery/sync` asks for a sync now, and every sync's outcome
// is published, retained, on `<prefix>/gallery/status`.
import type { MqttPublisher } from '../events/publisher.js';
import type { GallerySyncer, GalleryStatus } from './syncer.js';

export function galleryStatusPayload(s: GalleryStatus) {
  return { version: s.version, people: s.people, last_sync: s.lastSync, last_error: s.lastError };
}

export function connectGalleryToMqtt(syncer: GallerySyncer, publisher: MqttPublisher): void {
  publisher.onMessage(publisher.topics.gallerySync, () => void syncer.syncNow());
  syncer.on('report', (_, status) =>
    publisher.publish('gallery-status', publisher.topics.galleryStatus, galleryStatusPayload(status), true),
  );
}
