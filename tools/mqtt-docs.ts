// Writes docs/mqtt.md: the topics, the JSON Schema of every payload (from src/events/topics.ts)
// and examples, so the document cannot drift from the code. A test checks that it is current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAYLOAD_SCHEMAS } from '../src/events/topics.js';

const example = {
  event_id: '01JDQ7Y8Z4M3X9K2B6N5C8V1T0',
  time: '2026-11-28T23:14:05.123Z',
  device: 'gateway-1',
  camera: 'front_door',
  box: [612, 188, 164, 171],
  quality: { score: 0.97, eye_distance: 58.2, sharpness: 74.1, yaw: -6.3, roll: 2.1 },
  frames: 4,
  gallery_version: 12,
  snapshot: '01JDQ7Y8Z4M3X9K2B6N5C8V1T1',
  model: '276ab8bba638a09ab44e91482baba7e20eb9fb39dacd7757be3ad74ec36fd055/unit',
};

const liveness = (live: boolean) => ({
  mode: 'require',
  live,
  score: live ? 1.37 : 0.11,
  threshold: 1,
  reason: live ? 'turned' : 'still',
  frames: live ? 12 : 20,
  cues: live
    ? { frames: 12, motion: 0.061, turn: 0.118, steadiness: 4.8, parallax: 0.052, blinks: 0 }
    : { frames: 20, motion: 0.011, turn: 0.008, steadiness: 0.78, parallax: 0.009, blinks: 0 },
});

export function mqttReference(): string {
  const schema = (name: keyof typeof PAYLOAD_SCHEMAS) =>
    ['```json', JSON.stringify(PAYLOAD_SCHEMAS[name], null, 2), '```'].join('\n');
  const json = (v: unknown) => ['```json', JSON.stringify(v, null, 2), '```'].join('\n');
  return `# MQTT API

Generated from \`src/events/topics.ts\` by \`make mqtt-docs\`; do not edit by hand.

Every topic lives under a prefix, by default \`facegate/<device_id>\` (\`mqtt.prefix\`,
\`mqtt.deviceId\`; see configuration.md). Camera names in topics have \`/\`, \`+\`, \`#\` and spaces
replaced by \`_\`. Events are published with QoS 1 from a persistent outbox: each arrives at least
once, in order; deduplicate by \`event_id\`.

| topic | retained | payload |
| --- | --- | --- |
| \`<prefix>/status\` | yes | \`online\` or \`offline\` (also the last will, and published before a clean stop) |
| \`<prefix>/cameras/<camera>/status\` | yes | camera status (below) |
| \`<prefix>/cameras/<camera>/match\` | no | match event: a known person confirmed |
| \`<prefix>/cameras/<camera>/unknown\` | no | unknown event: a face that matched nobody |
| \`<prefix>/cameras/<camera>/spoof\` | no | spoof event: a face that matched a person but never moved as a head does (\`liveness.mode\` 'require') |
| \`<prefix>/doors/<door>/access\` | no | access event: what a door does about a camera decision, granted or denied with the reason (\`doors\`, docs/doors.md) |
| \`<prefix>/cameras/<camera>/face_unusable\` | no | a face that never passed the quality gates, and why (\`recognition.reportUnusable\`) |
| \`<prefix>/cameras/<camera>/snapshot/<id>\` | no | JPEG of the face crop behind a match, unknown or spoof event (its \`snapshot\` field), kept in \`<stateDir>/snapshots\` for \`snapshots.keepSeconds\` |
| \`<prefix>/last_face/<camera>\` | no | the same JPEG again, on a fixed topic (Home Assistant's image entity) |
| \`<prefix>/people/<id>/presence\` | no | \`ON\` at each live match of the person (Home Assistant's presence sensor) |
| \`<prefix>/gallery/status\` | yes | gallery status (below), after every sync |
| \`<prefix>/gallery/sync\` | (subscribed) | any message asks facegate for a gallery sync now |
| \`homeassistant/<kind>/facegate_<device>/<entity>/config\` | yes | Home Assistant discovery, when \`mqtt.homeAssistant.enabled\` (below) |

## Outbox and delivery

Every event is written to SQLite (\`<state dir>/outbox.sqlite\`) before it is sent and removed only
after the broker's PUBACK, so events survive a broker outage and a daemon killed with SIGKILL,
and go out in order when the broker is back. The outbox holds at most \`mqtt.outboxMaxEvents\`;
at the bound the oldest event is dropped to make room (the newest decisions matter most at a
door). Drops are never silent: each is logged with its kind and counted per kind in the
publisher's statistics (exported as metrics by the daemon).

After an outage, an event whose turn to be sent comes more than \`mqtt.maxEventAgeSeconds\` (30 s)
after it was stored is not sent: it is dropped, logged and counted per kind
(\`facegate_outbox_expired\`), so neither a door nor a Home Assistant automation acts on a face
seen minutes ago. Retained state (camera and gallery status) is always sent; 0 sends everything.
While the broker is away, facegate tries again after \`mqtt.reconnectMs\` (2 s), doubling the wait
(+-20%) up to 32x that or 10 s, whichever is less: a broker that is back is reached within 12 s.

## Signed events

With \`mqtt.signingKeyFile\` set, match, unknown, spoof and access events carry
\`"signature": {"alg": "HMAC-SHA256", "value": "<hex>"}\`: an HMAC with the shared key over the
canonical JSON of the payload without the signature field (keys sorted at every level, no
whitespace). \`time\` and \`event_id\` are inside the signed part: a controller refuses an event
whose MAC does not verify, whose time is more than 30 s from its clock, or whose id it has seen.
The liveness verdict is inside the signed part too: a controller also refuses a match whose
\`liveness.live\` is not \`true\` (docs/liveness.md). \`examples/door-controller.ts\` does exactly
this and prints \`unlock <person>\` (\`--allow-not-live\` lets non-live matches through, for a
camera where something else stops a photo):

\`\`\`sh
MQTT_USERNAME=door MQTT_PASSWORD=... node --import tsx examples/door-controller.ts mqtt://broker:1883 facegate/gateway-1 /etc/facegate/signing.key
\`\`\`

## Home Assistant

With \`mqtt.homeAssistant.enabled\`, facegate announces its entities by MQTT discovery, all on one
device, available while \`<prefix>/status\` is \`online\`:

| entity | per | what it shows |
| --- | --- | --- |
| \`sensor\` \`<camera>_person\` | camera | the last recognised person's name; the match event as attributes |
| \`event\` \`<camera>_match\`, \`<camera>_unknown\` | camera | each match (person, live) and each unknown face, as it happens |
| \`image\` \`<camera>_face\` | camera | the face crop of the camera's last decision (\`<prefix>/last_face/<camera>\`) |
| \`event\` \`door_<door>\` | door | each access decision: \`granted\` or \`denied\`, with the reason and person |
| \`binary_sensor\` \`person_<id>\` | person in the gallery | presence: on at each live match (\`<prefix>/people/<id>/presence\`), off \`mqtt.homeAssistant.presenceSeconds\` (300) later |

Configs are retained and announced again when Home Assistant publishes \`online\` on
\`homeassistant/status\`, and when the gallery changes. An entity whose camera, door or person is
gone gets an empty retained config, which removes it; what was announced is remembered in
\`<stateDir>/home-assistant-entities.json\`, so this also holds across a restart. The door's relay
is \`facegate door\`'s (docs/doors.md): its MQTT output can drive a Home Assistant switch.

## Payloads

### Match event

Example:

${json({ ...example, person: { id: 'ann', name: 'Ann Example' }, distance: 0.21, similarity: 0.316, threshold: 0.307, margin: 0.15, decided_by: 'votes', liveness: liveness(true) })}

Schema:

${schema('MatchEventSchema')}

### Unknown event

${schema('UnknownEventSchema')}

### Spoof event

With \`liveness.mode\` 'require' (the default), a track that matched a person but never moved as a
head does within \`liveness.maxFrames\` usable frames: a photo or a screen held up to the camera
(docs/liveness.md). It is published instead of the match, signed like it; no door should open.

Example:

${json({ ...example, frames: 20, person: { id: 'ann', name: 'Ann Example' }, distance: 0.35, threshold: 0.91, liveness: liveness(false) })}

${schema('SpoofEventSchema')}

### Access event

One per door (\`doors\`, docs/doors.md) that the camera of a match, unknown or spoof event serves:
\`granted\`, or \`denied\` with the reason. Signed. A door controller opens on \`granted\` for its own
door, fresh, seen once, and on nothing else.

Example:

${json({ event_id: '01JDQ7Y8Z9QW1E2R3T4Y5U6I7O', time: '2026-11-28T23:14:05.140Z', device: 'gateway-1', door: 'front', camera: 'front_door', result: 'granted', reason: null, person: { id: 'ann', name: 'Ann Example' }, decision: { kind: 'match', event_id: '01JDQ7Y8Z4M3X9K2B6N5C8V1T0' }, captured_at: '2026-11-28T23:14:04.890Z', snapshot: '01JDQ7Y8Z4M3X9K2B6N5C8V1T1' })}

${schema('AccessEventSchema')}

### Face unusable

Once per track, when a face stayed in view for \`recognition.unusableAfter\` frames and failed a
quality gate in each (too small, blurred, turned away, cut off): the answer to "why was I not
recognised?". Not signed: a door never acts on it.

${schema('FaceUnusableEventSchema')}

### Camera status

Example: ${'`'}{"state": "offline", "reason": "refused", "at": "2026-11-28T23:14:05.123Z"}${'`'}

${schema('CameraStatusSchema')}

### Gallery status

${schema('GalleryStatusSchema')}
`;
}

if (process.argv[1] === import.meta.filename)
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'mqtt.md'), mqttReference());
