// What the rest of facegate publishes, by meaning: each method picks the topic, the retain flag
// and the outbox kind, and signs decision events when a key is configured. Payload types come
// from the schemas in topics.ts.
import type { MqttPublisher } from './publisher.js';
import { signPayload } from './signing.js';
import type {
  AccessEvent,
  CameraStatus,
  FaceUnusableEvent,
  GalleryStatus,
  MatchEvent,
  SpoofEvent,
  UnknownEvent,
} from './topics.js';

type Unsigned<T> = Omit<T, 'signature'>;

export class FacegateEvents {
  constructor(
    private readonly publisher: MqttPublisher,
    /** HMAC key for door controllers; undefined publishes unsigned events. */
    private readonly signingKey?: Buffer,
  ) {}

  private sign<T extends Record<string, unknown>>(payload: T): T {
    return this.signingKey ? signPayload(this.signingKey, payload) : payload;
  }

  match(event: Unsigned<MatchEvent>): void {
    this.publisher.publish('match', this.publisher.topics.match(event.camera), this.sign(event));
  }

  unknown(event: Unsigned<UnknownEvent>): void {
    this.publisher.publish('unknown', this.publisher.topics.unknown(event.camera), this.sign(event));
  }

  spoof(event: Unsigned<SpoofEvent>): void {
    this.publisher.publish('spoof', this.publisher.topics.spoof(event.camera), this.sign(event));
  }

  access(event: Unsigned<AccessEvent>): void {
    this.publisher.publish('access', this.publisher.topics.access(event.door), this.sign(event));
  }

  faceUnusable(event: FaceUnusableEvent): void {
    this.publisher.publish('face-unusable', this.publisher.topics.faceUnusable(event.camera), event);
  }

  /** JPEG of the face or frame behind an event, on its own topic named by the event id. */
  snapshot(camera: string, eventId: string, jpeg: Buffer): void {
    this.publisher.publish('snapshot', this.publisher.topics.snapshot(camera, eventId), jpeg);
    this.publisher.publish('snapshot', this.publisher.topics.lastSnapshot(camera), jpeg);
  }

  /** The person was seen, live, just now. */
  presence(personId: string): void {
    this.publisher.publish('presence', this.publisher.topics.presence(personId), 'ON');
  }

  cameraStatus(camera: string, status: CameraStatus): void {
    this.publisher.publish('camera-status', this.publisher.topics.cameraStatus(camera), status, true);
  }

  galleryStatus(status: GalleryStatus): void {
    this.publisher.publish('gallery-status', this.publisher.topics.galleryStatus, status, true);
  }
}
