// Every MQTT topic facegate publishes and the payload each carries, in one place. Payloads are
// TypeBox schemas: the JSON Schema published in docs/mqtt.md and the TypeScript types come from
// the same definition. Topics live under a prefix, by default facegate/<device_id>.
import { Type, type Static } from '@sinclair/typebox';
import { ACCESS_REASONS } from '../doors/policy.js';
import { LIVENESS_MODES, LIVENESS_REASONS, LivenessCuesSchema } from '../recognition/liveness.js';

const Box = Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()], {
  description: 'Face box in frame pixels: x, y, width, height',
});

const Signature = Type.Object(
  {
    alg: Type.Literal('HMAC-SHA256'),
    value: Type.String({ description: 'hex HMAC over the canonical JSON of the payload without this field' }),
  },
  { description: 'Present when event signing is on (docs/mqtt.md)' },
);

const Evidence = {
  event_id: Type.String({ description: 'Unique, sortable by time (ULID)' }),
  time: Type.String({ format: 'date-time' }),
  device: Type.String(),
  camera: Type.String(),
  box: Box,
  quality: Type.Object({
    score: Type.Number(),
    eye_distance: Type.Number(),
    sharpness: Type.Number(),
    yaw: Type.Number(),
    roll: Type.Number(),
  }),
  frames: Type.Integer({ description: 'Frames of the track that voted for this decision' }),
  captured_at: Type.String({
    format: 'date-time',
    description: 'When the frame that completed the decision reached facegate from the camera',
  }),
  frame_age_ms: Type.Integer({
    description:
      'How old that frame was when its analysis started (at most pipeline.maxFrameAgeMs); time minus captured_at is the whole latency',
  }),
  gallery_version: Type.Integer(),
  snapshot: Type.Union([Type.String(), Type.Null()], {
    description:
      'The id of the face crop: a JPEG published on <prefix>/cameras/<camera>/snapshot/<id> and kept in the state directory for snapshots.retention; null when this kind keeps none',
  }),
  model: Type.String({
    description:
      "What made the embeddings: the encoder's sha256 and /unit (unit-length embeddings), plus + and the head's sha256 with a triplet head",
  }),
  signature: Type.Optional(Signature),
};

const Liveness = Type.Object(
  {
    mode: Type.Union(
      LIVENESS_MODES.map((m) => Type.Literal(m)),
      { description: "The camera's liveness.mode when the track was decided" },
    ),
    live: Type.Union([Type.Boolean(), Type.Null()], {
      description: "Whether the track moved as a head does; null with mode 'off'",
    }),
    score: Type.Union([Type.Number(), Type.Null()], {
      description: 'The liveness score; null with mode off',
    }),
    threshold: Type.Union([Type.Number(), Type.Null()], {
      description: 'Live at and above it; null with mode off',
    }),
    reason: Type.Union(
      LIVENESS_REASONS.map((r) => Type.Literal(r)),
      {
        description:
          "Why: 'turned' (live: the nose moved against the outline as a head turns), or 'still' (did not move), 'flat' (moved, but as a picture does), 'off'",
      },
    ),
    frames: Type.Integer({ description: 'Usable frames the verdict was made on' }),
    cues: Type.Union([LivenessCuesSchema, Type.Null()]),
  },
  {
    description:
      'The liveness verdict on the track (docs/liveness.md), inside the signature: a door controller refuses a match that is not live',
  },
);

const Person = Type.Object({ id: Type.String(), name: Type.String() });

export const MatchEventSchema = Type.Object(
  {
    ...Evidence,
    person: Person,
    distance: Type.Number(),
    similarity: Type.Number({ description: '1 - distance / threshold, clipped to 0..1' }),
    threshold: Type.Number(),
    margin: Type.Union([Type.Number(), Type.Null()], {
      description: 'Distance to the second-best person minus distance; null with one person',
    }),
    decided_by: Type.Optional(
      Type.Union([Type.Literal('votes'), Type.Literal('fusion')], {
        description:
          "'votes': enough frames of the track matched the person (distance and margin are the best frame's); 'fusion': the mean of the track's faces did (distance and margin are the mean's)",
      }),
    ),
    liveness: Liveness,
  },
  { $id: 'facegate/match', description: 'A known person confirmed at a camera' },
);

export const SpoofEventSchema = Type.Object(
  {
    ...Evidence,
    person: Type.Object(Person.properties, {
      description: 'Whom the face looked like: the person a match would have named',
    }),
    distance: Type.Number(),
    threshold: Type.Number(),
    liveness: Liveness,
  },
  {
    $id: 'facegate/spoof',
    description:
      "A face that matched a person but never moved as a head does within liveness.maxFrames (liveness.mode 'require'): a photo or a screen held up to the camera. No match event is published for it.",
  },
);

export const UnknownEventSchema = Type.Object(
  {
    ...Evidence,
    nearest: Type.Union([
      Type.Object({ id: Type.String(), name: Type.String(), distance: Type.Number() }),
      Type.Null(),
    ]),
    threshold: Type.Number(),
  },
  { $id: 'facegate/unknown', description: 'A face seen that matched nobody' },
);

export const AccessEventSchema = Type.Object(
  {
    event_id: Evidence.event_id,
    time: Evidence.time,
    device: Evidence.device,
    door: Type.String({ description: 'doors[].name' }),
    camera: Evidence.camera,
    result: Type.Union([Type.Literal('granted'), Type.Literal('denied')]),
    reason: Type.Union([...ACCESS_REASONS.map((r) => Type.Literal(r)), Type.Null()], {
      description:
        "Why it was denied (null when granted): not_allowed (the person may not use this door), outside_schedule, unknown (nobody enrolled, or too few votes or too small a margin for the door's minVotes and minMargin), not_live (a spoof, or liveness not shown), locked_out (too many refusals lately), stale (the decision's frame too old)",
    }),
    person: Type.Union([Person, Type.Null()], {
      description: 'Whom the face was (or, for a spoof, looked like); null for an unknown face',
    }),
    decision: Type.Object(
      {
        kind: Type.Union([Type.Literal('match'), Type.Literal('unknown'), Type.Literal('spoof')]),
        event_id: Type.String(),
      },
      { description: 'The camera event this access decision is about' },
    ),
    captured_at: Evidence.captured_at,
    snapshot: Evidence.snapshot,
    signature: Type.Optional(Signature),
  },
  {
    $id: 'facegate/access',
    description:
      'What a door does about a camera decision (docs/doors.md): one per door the camera serves. A door controller opens on granted and nothing else.',
  },
);

export const FaceUnusableEventSchema = Type.Object(
  {
    event_id: Evidence.event_id,
    time: Evidence.time,
    device: Evidence.device,
    camera: Evidence.camera,
    box: Box,
    frames: Type.Integer({ description: 'Frames of the track, all failing a quality gate' }),
    gate: Type.String({ description: 'The gate that failed most often (minScore, minEyeDistance, ...)' }),
    reason: Type.String({ description: 'Why, in words, with the measured value' }),
  },
  {
    $id: 'facegate/face-unusable',
    description: 'A face seen for a while that never passed the quality gates: why nobody was recognised',
  },
);

export const CameraStatusSchema = Type.Object(
  {
    state: Type.Union([Type.Literal('connecting'), Type.Literal('online'), Type.Literal('offline')]),
    reason: Type.Optional(Type.String()),
    at: Type.String({ format: 'date-time' }),
  },
  { $id: 'facegate/camera-status' },
);

export const GalleryStatusSchema = Type.Object(
  {
    version: Type.Integer(),
    people: Type.Integer(),
    last_sync: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    last_error: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'facegate/gallery-status' },
);

export type MatchEvent = Static<typeof MatchEventSchema>;
export type UnknownEvent = Static<typeof UnknownEventSchema>;
export type SpoofEvent = Static<typeof SpoofEventSchema>;
export type AccessEvent = Static<typeof AccessEventSchema>;
export type LivenessReport = Static<typeof Liveness>;
export type FaceUnusableEvent = Static<typeof FaceUnusableEventSchema>;
export type CameraStatus = Static<typeof CameraStatusSchema>;
export type GalleryStatus = Static<typeof GalleryStatusSchema>;

/** MQTT topic segments may not contain wildcards or separators. */
export function topicSegment(name: string): string {
  return name.replace(/[#+/\s]/g, '_');
}

/** The topics of one device. */
export function topics(prefix: string) {
  const cam = (camera: string) => `${prefix}/cameras/${topicSegment(camera)}`;
  return {
    /** Retained 'online' / 'offline'; the last will says 'offline'. */
    status: `${prefix}/status`,
    cameraStatus: (camera: string) => `${cam(camera)}/status`,
    match: (camera: string) => `${cam(camera)}/match`,
    unknown: (camera: string) => `${cam(camera)}/unknown`,
    spoof: (camera: string) => `${cam(camera)}/spoof`,
    access: (door: string) => `${prefix}/doors/${topicSegment(door)}/access`,
    faceUnusable: (camera: string) => `${cam(camera)}/face_unusable`,
    /** JPEG bytes of the face or frame of one event. */
    snapshot: (camera: string, eventId: string) => `${cam(camera)}/snapshot/${eventId}`,
    /** The latest snapshot again, on a fixed topic (a Home Assistant image entity reads it). */
    lastSnapshot: (camera: string) => `${prefix}/last_face/${topicSegment(camera)}`,
    /** ON at each live match of the person (Home Assistant presence). */
    presence: (personId: string) => `${prefix}/people/${topicSegment(personId)}/presence`,
    galleryStatus: `${prefix}/gallery/status`,
    /** Commands: any message asks for a gallery sync now. */
    gallerySync: `${prefix}/gallery/sync`,
  };
}

export type Topics = ReturnType<typeof topics>;

export const defaultPrefix = (deviceId: string): string => `facegate/${topicSegment(deviceId)}`;

/** Every payload schema, for docs/mqtt.md and subscribers. */
export const PAYLOAD_SCHEMAS = {
  MatchEventSchema,
  UnknownEventSchema,
  SpoofEventSchema,
  AccessEventSchema,
  FaceUnusableEventSchema,
  CameraStatusSchema,
  GalleryStatusSchema,
};
