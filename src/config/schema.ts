// facegate's configuration: one convict schema, JSON files plus FACEGATE_* environment
// variables, validated strictly (unknown keys are errors) before anything starts. The
// TypeScript type is derived from the schema, never written twice. Later stages (cameras,
// MQTT, gallery sync, HTTP) add their sections here.
import { accessSync, constants, statSync } from 'node:fs';
import convict from 'convict';
import { CAMERA_LIST_DOC, cameraListProblems, type CameraEntry } from '../camera/camera-config.js';
import { redactText, redactUrl } from '../camera/url.js';
import { FacegateError, fileErrorWords, readFileOrThrow } from '../errors.js';
import { DEFAULT_SIMILAR_FACE_RATIO } from '../gallery/enroll.js';
import { DEFAULT_DETECTOR_OPTIONS, DETECTOR_LEVELS, MAX_INPUT_SIDE } from '../inference/detector.js';
import { DOOR_GALLERY_SIZE, DOOR_THRESHOLDS, ENCODER_THRESHOLDS } from '../inference/faces.js';
import { DEFAULT_ENCODER, ENCODERS, type EncoderName } from '../inference/model-manifest.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider, type SessionOptions } from '../inference/session.js';
import { DOOR_LIST_DOC, doorListProblems, type DoorConfig } from '../doors/policy.js';
import { MAX_RECONNECT_WAIT_MS } from '../events/publisher.js';
import { DEFAULT_LIVENESS, LIVENESS_MODES, type LivenessPolicy } from '../recognition/liveness.js';
import { DEFAULT_QUALITY_GATES } from '../vision/quality.js';

// A comma-separated list in the environment (FACEGATE_MODELS_PROVIDERS=cuda,cpu), a list in JSON.
convict.addFormat({
  name: 'provider-list',
  coerce: (v: string) => v.split(',').map((p) => p.trim()),
  validate: (v: unknown) => {
    if (
      !Array.isArray(v) ||
      !v.length ||
      v.some((p) => !(EXECUTION_PROVIDERS as readonly unknown[]).includes(p))
    ) {
      throw new Error(`must be a non-empty list of ${EXECUTION_PROVIDERS.join(', ')}`);
    }
  },
});

// Switches. convict's own Boolean reads every string but "false" as true, so FACEGATE_X=0 and
// FACEGATE_X=no would switch a thing on; this one reads the usual spellings and refuses the rest.
const FLAG_WORDS: Record<string, boolean> = {
  true: true,
  '1': true,
  yes: true,
  on: true,
  false: false,
  '0': false,
  no: false,
  off: false,
};
convict.addFormat({
  name: 'flag',
  coerce: (v: string) => FLAG_WORDS[v.trim().toLowerCase()] ?? v,
  validate: (v: unknown) => {
    if (typeof v !== 'boolean')
      throw new Error('must be true or false (in the environment also 1/0, yes/no, on/off)');
  },
});

// How live faces use the mirror pass (AnalyzeOptions.mirror). The on/off switch it was before
// (true or false in a config file) is refused with what each now is, not read as a string.
const MIRROR_MODES = ['always', 'near-threshold', 'never'] as const;
type MirrorMode = (typeof MIRROR_MODES)[number];
convict.addFormat({
  name: 'mirror-mode',
  validate: (v: unknown) => {
    if (typeof v === 'boolean')
      throw new Error(
        `must be ${MIRROR_MODES.join(', ')} (it was a switch: true is now always, false never)`,
      );
    if (!(MIRROR_MODES as readonly unknown[]).includes(v))
      throw new Error(`must be one of ${MIRROR_MODES.join(', ')}`);
  },
});

// Cameras: a list of {name, url, ...} in JSON; FACEGATE_CAMERAS takes the same list as JSON. Each
// entry is checked against src/camera/camera-config.ts, one line per problem.
convict.addFormat({
  name: 'camera-list',
  coerce: (v: string) => JSON.parse(v) as unknown,
  validate: (v: unknown) => {
    const problems = cameraListProblems(v);
    if (problems.length) throw new Error(problems.join('\n'));
  },
});

// Doors: each entry checked against src/doors/policy.ts, one line per problem.
convict.addFormat({
  name: 'door-list',
  coerce: (v: string) => JSON.parse(v) as unknown,
  validate: (v: unknown) => {
    const problems = doorListProblems(v);
    if (problems.length) throw new Error(problems.join('\n'));
  },
});

// A broker URL as mqtt.js opens it; anything else would retry for ever, or never connect.
const BROKER_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'];
convict.addFormat({
  name: 'broker-url',
  validate: (v: unknown) => {
    if (typeof v !== 'string') throw new Error('must be a URL');
    if (!v) return;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      throw new Error(`${redactUrl(v)} is not a URL`);
    }
    const scheme = url.protocol.slice(0, -1);
    if (!BROKER_SCHEMES.includes(scheme))
      throw new Error(
        `${redactUrl(v)}: unsupported scheme "${scheme}:" (use ${BROKER_SCHEMES.map((s) => `${s}://`).join(', ')})`,
      );
    if (!url.hostname) throw new Error(`${redactUrl(v)}: no host`);
  },
});

// Files the config names (secrets, keys, certificates) must be readable when the daemon starts,
// so an unreadable one is a config error like any other, listed with its key before anything
// starts. Empty means not used.
convict.addFormat({
  name: 'readable-file',
  coerce: (v: string) => v,
  validate: (v: unknown) => {
    if (typeof v !== 'string') throw new Error('must be a file path');
    if (!v) return;
    try {
      accessSync(v, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`cannot read ${v}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`);
    }
    if (!statSync(v).isFile()) throw new Error(`${v} is not a file`);
  },
});

const positive = (name: string) => (v: unknown) => {
  if (typeof v !== 'number' || !(v > 0)) throw new Error(`${name} must be a positive number`);
};

const seconds = (name: string) => (v: unknown) => {
  if (typeof v !== 'number' || !(v >= 0)) throw new Error(`${name} must be a number of seconds, 0 or more`);
};

const frameCount = (name: string) => (v: unknown) => {
  if (!Number.isInteger(v) || (v as number) < 2 || (v as number) > 300)
    throw new Error(`${name} must be a whole number of frames from 2 to 300`);
};
const fraction = (v: unknown) => {
  if (typeof v !== 'number' || v < 0 || v > 1) throw new Error('must be between 0 and 1');
};

export const schema = {
  log: {
    level: {
      doc: 'Least important log lines written (JSON lines on stderr, for journald).',
      format: ['info', 'warn', 'error'],
      default: 'info',
      env: 'FACEGATE_LOG_LEVEL',
    },
  },
  stateDir: {
    doc: 'Where facegate keeps its state: the gallery database (gallery.sqlite).',
    format: String,
    default: 'state',
    env: 'FACEGATE_STATE_DIR',
  },
  models: {
    dir: {
      doc: 'Folder with the ONNX models and manifest.json; empty means models/ of the installation.',
      format: String,
      default: '',
      env: 'FACEGATE_MODELS_DIR',
    },
    providers: {
      doc: `ONNX Runtime execution providers to try, in order (${EXECUTION_PROVIDERS.join(', ')}); the one used is logged.`,
      format: 'provider-list',
      default: ['cpu'] as ExecutionProvider[],
      env: 'FACEGATE_MODELS_PROVIDERS',
    },
    engineCacheDir: {
      doc: 'TensorRT: folder for built engines, so only the first start builds them (the unit uses its CacheDirectory); empty: no cache.',
      format: String,
      default: '',
      env: 'FACEGATE_MODELS_ENGINE_CACHE_DIR',
    },
    fp16: { doc: 'TensorRT: allow fp16 kernels.', format: 'flag', default: true },
    encoder: {
      doc: "The face encoder: 'dlib' (dlib's ResNet, 128-D, faces aligned to dlib's 150-pixel template) or 'mobilefacenet' (ArcFace-trained MobileFaceNet, 192-D, faces aligned to ArcFace's 112-pixel five-point template; docs/models.md). Switching re-embeds the gallery from its stored photos.",
      format: [...ENCODERS],
      default: DEFAULT_ENCODER,
      env: 'FACEGATE_MODELS_ENCODER',
    },
    int8: {
      doc: "CPU provider, dlib encoder only (MobileFaceNet's int8 graph was measured and not kept: docs/models.md): run the encoder quantized to int8 (about 2x faster per face with VNNI; accuracy in docs/recognition.md). Its embeddings differ slightly from the float ones, so switching re-embeds the gallery. At start it must give the float encoder's answers on packaged faces, or the float encoder runs instead (logged, in /readyz and /metrics; docs/models.md).",
      format: 'flag',
      default: false,
      env: 'FACEGATE_MODELS_INT8',
    },
  },
  pipeline: {
    concurrentFrames: {
      doc: 'Frames analysed at once, over all cameras; the others wait in a queue of at most one frame per camera (the newest), and frames replaced there are dropped and counted.',
      format: positive('pipeline.concurrentFrames'),
      default: 1,
    },
    maxFrameAgeMs: {
      doc: "A frame older than this when its analysis would start is dropped and counted (facegate_frames_stale_total), never decided on: events are about who is at the door now. A frame's age runs from its arrival from the camera; events carry it (frame_age_ms).",
      format: positive('pipeline.maxFrameAgeMs'),
      default: 2000,
    },
    stallSeconds: {
      doc: 'The pipeline is stalled when a camera delivers frames but none was analysed for this long: /healthz fails and the systemd watchdog is no longer pinged.',
      format: positive('pipeline.stallSeconds'),
      default: 20,
    },
    motion: {
      enabled: {
        doc: "Motion gating: a frame that shows nothing new since the camera's last analysed frame (no block of a 32-across grey grid changed by more than pipeline.motion.threshold), while no face in view waits for a decision, is not analysed; its tracks are kept (facegate_frames_unchanged_total). Any change is analysed at once.",
        format: 'flag',
        default: true,
      },
      threshold: {
        doc: "Grey levels (0-255) a block's mean brightness must move for the picture to have changed.",
        format: positive('pipeline.motion.threshold'),
        default: 6,
      },
      maxSkipMs: {
        doc: 'However still the picture, a frame is analysed at least this often.',
        format: positive('pipeline.motion.maxSkipMs'),
        default: 2000,
      },
    },
  },
  cameras: {
    doc: CAMERA_LIST_DOC,
    format: 'camera-list',
    default: [] as CameraEntry[],
    env: 'FACEGATE_CAMERAS',
  },
  doors: {
    doc: DOOR_LIST_DOC,
    format: 'door-list',
    default: [] as DoorConfig[],
    env: 'FACEGATE_DOORS',
  },
  recognition: {
    window: { doc: 'Frames of a track that vote.', format: positive('recognition.window'), default: 5 },
    minVotes: {
      doc: 'A match needs this many of the last `window` frames to agree.',
      format: positive('recognition.minVotes'),
      default: 3,
    },
    unknownAfter: {
      doc: 'Frames in a row matching nobody before an unknown event.',
      format: positive('recognition.unknownAfter'),
      default: 5,
    },
    unusableAfter: {
      doc: 'Frames in a row failing the quality gates before a face_unusable report.',
      format: positive('recognition.unusableAfter'),
      default: 10,
    },
    cooldownSeconds: {
      doc: 'No second match event for the same person at the same camera within this time.',
      format: Number,
      default: 60,
    },
    reportUnusable: {
      doc: 'Publish face_unusable events (which quality gate failed) for faces that never became usable.',
      format: 'flag',
      default: true,
    },
    fusion: {
      enabled: {
        doc: "Also decide on the mean of a track's usable faces (weighted by quality), matched as one probe beside the votes: a resident whose single frames all fall just short is still recognised (docs/recognition.md).",
        format: 'flag',
        default: true,
      },
      minFrames: {
        doc: 'Usable faces a track needs before its fused probe may decide.',
        format: positive('recognition.fusion.minFrames'),
        default: 3,
      },
      maxFrames: {
        doc: 'The fused probe is the mean of at most this many of the latest usable faces.',
        format: positive('recognition.fusion.maxFrames'),
        default: 10,
      },
    },
    mirror: {
      doc: "Encode live faces with their mirror image too (steadier embeddings for a second encoder pass): 'always', 'never', or 'near-threshold': once, then again with the mirror only for faces whose decision lies within recognition.mirrorBand of the threshold. Enrollment always mirrors; facegate eval and calibrate follow this setting.",
      format: 'mirror-mode',
      default: 'near-threshold' as MirrorMode,
    },
    mirrorBand: {
      doc: "With mirror 'near-threshold': how near the threshold, as a fraction of it on either side, a face's nearest distance must be for the mirror pass; or, under the threshold, its margin over the runner-up to match.minMargin (a near tie when that is 0).",
      format: fraction,
      default: 0.2,
    },
  },
  detector: {
    minFaceSize: {
      doc: 'Smallest face box side to find, image pixels (about 2.4x the eye distance); smaller costs more.',
      format: positive('detector.minFaceSize'),
      default: DEFAULT_DETECTOR_OPTIONS.minFaceSize,
      env: 'FACEGATE_DETECTOR_MIN_FACE_SIZE',
    },
    maxInputSide: {
      doc: `Longest side of the detector's finest level, bounding the cost of huge photos (at most ${MAX_INPUT_SIDE}).`,
      format: (v: unknown) => {
        positive('detector.maxInputSide')(v);
        if ((v as number) > MAX_INPUT_SIDE)
          throw new Error(
            `detector.maxInputSide must be at most ${MAX_INPUT_SIDE}: the detector computes ${DETECTOR_LEVELS} pyramid levels`,
          );
      },
      default: DEFAULT_DETECTOR_OPTIONS.maxInputSide,
    },
    minScore: {
      doc: 'Detector score threshold.',
      format: fraction,
      default: DEFAULT_DETECTOR_OPTIONS.minScore,
    },
    iouThreshold: {
      doc: 'Non-maximum suppression overlap.',
      format: fraction,
      default: DEFAULT_DETECTOR_OPTIONS.iouThreshold,
    },
  },
  snapshots: {
    keepSeconds: {
      match: {
        doc: "How long the face crop of a match is kept (<stateDir>/snapshots, 0600), then deleted; 0 keeps none and publishes none. Each match, unknown and spoof event names its snapshot's id, published as a JPEG on the snapshot topic (docs/mqtt.md).",
        format: seconds('snapshots.keepSeconds.match'),
        default: 7 * 24 * 3600,
      },
      unknown: {
        doc: "How long the face crop of an unknown face is kept; 0 keeps none. Strangers' faces: keep them short.",
        format: seconds('snapshots.keepSeconds.unknown'),
        default: 24 * 3600,
      },
      spoof: {
        doc: 'How long the face crop of a spoof (a photo or screen held up: docs/liveness.md) is kept; 0 keeps none.',
        format: seconds('snapshots.keepSeconds.spoof'),
        default: 7 * 24 * 3600,
      },
    },
  },
  retention: {
    auditDays: {
      doc: 'Days the audit log keeps an entry (access decisions, gallery changes, reloads: docs/privacy.md); the retention sweep cuts older ones and records the cut in the chain. 0 keeps them forever.',
      format: seconds('retention.auditDays'),
      default: 365,
    },
    markedDays: {
      doc: "Days a pair marked wrong in the console (a face crop and a person's photo, <stateDir>/marked) is kept for facegate calibrate --marked; a removed person's pairs go at once. 0 keeps them until then.",
      format: seconds('retention.markedDays'),
      default: 90,
    },
  },
  encryption: {
    keyFile: {
      doc: "A 256-bit key (64 hex digits: openssl rand -hex 32) that seals the data key encrypting photos, embeddings, snapshots, the outbox's payloads and exports (AES-256-GCM, docs/privacy.md). Empty, with no credential: stored unencrypted. Refused when others can read it; a missing or wrong key stops facegate (exit 78).",
      format: 'readable-file',
      default: '',
      env: 'FACEGATE_ENCRYPTION_KEY_FILE',
    },
    credential: {
      doc: 'Instead of keyFile: the name of a systemd credential holding the key (LoadCredentialEncrypted=NAME:..., read from $CREDENTIALS_DIRECTORY; sealed by the TPM where the board has one).',
      format: String,
      default: '',
      env: 'FACEGATE_ENCRYPTION_CREDENTIAL',
    },
  },
  liveness: {
    mode: {
      doc: "Whether a track must show it is a head, not a picture of one (docs/liveness.md). A match waits until its track is live, at most maxFrames usable frames; then 'require' publishes a spoof event instead of the match, 'report' the match with live false. 'off' judges nothing. Each camera may set its own (cameras[].liveness).",
      format: [...LIVENESS_MODES],
      default: DEFAULT_LIVENESS.mode,
      env: 'FACEGATE_LIVENESS_MODE',
    },
    threshold: {
      doc: 'The liveness score at and above which a track is live (docs/liveness.md: what it lets through at each setting).',
      format: positive('liveness.threshold'),
      default: DEFAULT_LIVENESS.threshold,
    },
    minFrames: {
      doc: 'Usable frames a track needs before any liveness verdict.',
      format: frameCount('liveness.minFrames'),
      default: DEFAULT_LIVENESS.minFrames,
    },
    maxFrames: {
      doc: "Usable frames a track may take to show it is live; with 'require', a track still not live then is a spoof.",
      format: frameCount('liveness.maxFrames'),
      default: DEFAULT_LIVENESS.maxFrames,
    },
  },
  quality: {
    minScore: { doc: 'Gate: detector score.', format: fraction, default: DEFAULT_QUALITY_GATES.minScore },
    minEyeDistance: {
      doc: 'Gate: pixels between the eye centres.',
      format: Number,
      default: DEFAULT_QUALITY_GATES.minEyeDistance,
    },
    minSharpness: {
      doc: "Gate: variance of the Laplacian of the aligned face's luma.",
      format: Number,
      default: DEFAULT_QUALITY_GATES.minSharpness,
    },
    maxYaw: {
      doc: 'Gate: head turn, degrees (coarse estimate).',
      format: Number,
      default: DEFAULT_QUALITY_GATES.maxYaw,
    },
    maxRoll: { doc: 'Gate: head tilt, degrees.', format: Number, default: DEFAULT_QUALITY_GATES.maxRoll },
    maxOutside: {
      doc: 'Gate: fraction of the face box outside the frame.',
      format: fraction,
      default: DEFAULT_QUALITY_GATES.maxOutside,
    },
  },
  match: {
    threshold: {
      doc: `Same person when the distance between unit-length embeddings is under this (facegate calibrate --openset prints one for a door's gallery); 0: the encoder's own, at the door dlib ${DOOR_THRESHOLDS.dlib} and mobilefacenet ${DOOR_THRESHOLDS.mobilefacenet} (1 stranger in 1,000 taken for somebody with ${DOOR_GALLERY_SIZE} enrolled), for one comparison (verify, enrollment's duplicate check) dlib ${ENCODER_THRESHOLDS.dlib} and mobilefacenet ${ENCODER_THRESHOLDS.mobilefacenet}.`,
      format: (v: unknown) => {
        if (typeof v !== 'number' || !(v >= 0))
          throw new Error('match.threshold must be 0 or a positive number');
      },
      default: 0,
      env: 'FACEGATE_MATCH_THRESHOLD',
    },
    minMargin: {
      doc: 'A match also needs the runner-up this much farther away.',
      format: Number,
      default: 0,
    },
    comparator: {
      doc: "How a face is compared with the gallery: 'distance' between embeddings, a 'triplet-head' that projects them first, or a 'binary-head' that scores each pair (facegate train; docs/recognition.md).",
      format: ['distance', 'triplet-head', 'binary-head'],
      default: 'distance',
      env: 'FACEGATE_MATCH_COMPARATOR',
    },
    headFile: {
      doc: 'The head for a triplet-head or binary-head comparator (an ONNX file from facegate train, with its .json manifest).',
      format: 'readable-file',
      default: '',
      env: 'FACEGATE_MATCH_HEAD_FILE',
    },
    headThreshold: {
      doc: "A head's threshold (its distance; 1 - similarity for the binary head); 0 uses the one calibrated in training (FAR 1e-3 on validation).",
      format: Number,
      default: 0,
    },
    aggregation: {
      doc: "With several photos of a person: their 'mean' embedding (measured better) or their 'best' photo.",
      format: ['mean', 'best'],
      default: 'mean',
    },
  },
  mqtt: {
    url: {
      doc: 'Broker URL: mqtt://, mqtts://, ws:// or wss:// with a host; empty means the embedded broker (mqtt.embedded).',
      format: 'broker-url',
      default: '',
      env: 'FACEGATE_MQTT_URL',
    },
    embedded: {
      enabled: {
        doc: 'With no mqtt.url: run a broker inside facegate (aedes, no users, loopback) so events can be watched on a fresh machine; if the port is taken, the broker already there is used.',
        format: 'flag',
        default: true,
      },
      host: { doc: 'Address of the embedded broker.', format: String, default: '127.0.0.1' },
      port: { doc: 'Port of the embedded broker (0: any free port).', format: 'port', default: 1883 },
    },
    deviceId: {
      doc: 'This device in topics and the client id (facegate-<deviceId>); empty means the host name.',
      format: String,
      default: '',
      env: 'FACEGATE_DEVICE_ID',
    },
    prefix: { doc: 'Topic prefix; empty means facegate/<deviceId>.', format: String, default: '' },
    username: { doc: 'Broker user name.', format: String, default: '', env: 'FACEGATE_MQTT_USERNAME' },
    passwordFile: {
      doc: 'File holding the broker password (e.g. a systemd credential); FACEGATE_MQTT_PASSWORD also works. Never on a command line.',
      format: 'readable-file',
      default: '',
      env: 'FACEGATE_MQTT_PASSWORD_FILE',
    },
    caFile: { doc: 'CA certificate(s) to trust for mqtts://.', format: 'readable-file', default: '' },
    certFile: { doc: 'Client certificate for mutual TLS.', format: 'readable-file', default: '' },
    keyFile: { doc: 'Client key for mutual TLS.', format: 'readable-file', default: '' },
    protocolVersion: { doc: 'MQTT 5, or 4 (3.1.1) for old brokers.', format: [5, 4], default: 5 },
    reconnectMs: {
      doc: `First wait between connection attempts; while they fail it doubles (with +-20% jitter) up to 32x this or ${MAX_RECONNECT_WAIT_MS / 1000} s, whichever is less, and starts again from this once connected.`,
      format: positive('mqtt.reconnectMs'),
      default: 2000,
    },
    maxEventAgeSeconds: {
      doc: 'Events (match, unknown, spoof, face_unusable, snapshots) still in the outbox when older than this are not sent but dropped, logged and counted (facegate_outbox_expired): after a broker outage a door or an automation must not act on a face seen minutes ago. Retained state (camera and gallery status) is always sent. 0: send everything, however old.',
      format: seconds('mqtt.maxEventAgeSeconds'),
      default: 30,
    },
    outboxMaxEvents: {
      doc: 'Events kept while the broker is unreachable; at the bound the oldest is dropped, counted and logged.',
      format: positive('mqtt.outboxMaxEvents'),
      default: 100_000,
    },
    outboxFsync: {
      doc: 'fsync each outbox write (survives power loss; slower).',
      format: 'flag',
      default: true,
    },
    signingKeyFile: {
      doc: 'Shared HMAC-SHA256 key for signing match, unknown and spoof events (docs/mqtt.md); empty means unsigned.',
      format: 'readable-file',
      default: '',
      env: 'FACEGATE_MQTT_SIGNING_KEY_FILE',
    },
    homeAssistant: {
      enabled: {
        doc: 'Publish Home Assistant MQTT discovery configs: per camera a last-person sensor, match and unknown events and the last face image; per door an access event; per person a presence sensor (docs/mqtt.md).',
        format: 'flag',
        default: false,
      },
      discoveryPrefix: {
        doc: "Home Assistant's discovery prefix.",
        format: String,
        default: 'homeassistant',
      },
      presenceSeconds: {
        doc: "How long a person's presence sensor stays on after their last live match.",
        format: positive('mqtt.homeAssistant.presenceSeconds'),
        default: 300,
      },
    },
  },
  gallery: {
    source: {
      doc: 'Where the gallery comes from: an https:// (or http://) manifest URL, or a local directory; empty means enrollment by hand only.',
      format: String,
      default: '',
      env: 'FACEGATE_GALLERY_SOURCE',
    },
    publicKeyFile: {
      doc: 'Ed25519 public key (PEM, or 32 bytes base64) that signs the manifest (<manifest>.sig).',
      format: 'readable-file',
      default: '',
      env: 'FACEGATE_GALLERY_PUBLIC_KEY_FILE',
    },
    allowUnsigned: {
      doc: 'Accept an unsigned manifest (closed networks and tests only).',
      format: 'flag',
      default: false,
    },
    bearerTokenFile: {
      doc: 'File with a bearer token for the manifest and images.',
      format: 'readable-file',
      default: '',
    },
    caFile: { doc: 'CA certificate(s) to trust for the source.', format: 'readable-file', default: '' },
    intervalSeconds: {
      doc: 'Time between syncs (plus up to 10% jitter); 0 syncs only on start and on demand.',
      format: Number,
      default: 300,
    },
    partial: {
      doc: "When some people's photos are refused: 'keep-last-good' gallery (safe for a door) or 'apply-valid' (everyone else).",
      format: ['keep-last-good', 'apply-valid'],
      default: 'keep-last-good',
    },
    timeoutSeconds: {
      doc: 'Deadline for one download.',
      format: positive('gallery.timeoutSeconds'),
      default: 30,
    },
    stallSeconds: {
      doc: 'A download with no data for this long is abandoned.',
      format: positive('gallery.stallSeconds'),
      default: 10,
    },
    maxManifestBytes: {
      doc: 'Largest manifest accepted.',
      format: positive('gallery.maxManifestBytes'),
      default: 10 * 1024 * 1024,
    },
    maxImageBytes: {
      doc: 'Largest enrollment photo accepted.',
      format: positive('gallery.maxImageBytes'),
      default: 30 * 1024 * 1024,
    },
    maxImagePixels: {
      doc: 'Enrollment photos with more pixels are refused before decoding.',
      format: positive('gallery.maxImagePixels'),
      default: 50_000_000,
    },
  },
  http: {
    enabled: { doc: 'Serve /healthz, /readyz and /metrics.', format: 'flag', default: true },
    host: {
      doc: 'Address to listen on; 127.0.0.1 keeps it on the device.',
      format: String,
      default: '127.0.0.1',
      env: 'FACEGATE_HTTP_HOST',
    },
    port: {
      doc: 'Port (0: any free port, logged at start).',
      format: 'port',
      default: 9789,
      env: 'FACEGATE_HTTP_PORT',
    },
    tls: {
      certFile: {
        doc: 'Certificate (PEM) to serve HTTPS with; needed when http.host is not a loopback address.',
        format: 'readable-file',
        default: '',
      },
      keyFile: { doc: "The certificate's private key (PEM).", format: 'readable-file', default: '' },
    },
    console: {
      enabled: {
        doc: 'Serve the web console at / and the API at /api/v1 (docs/console.md, docs/api.md); every request but login needs a user or an API token.',
        format: 'flag',
        default: true,
      },
      usersFile: {
        doc: 'Console users (scrypt hashes) and API tokens (sha256), written by facegate console passwd|token; empty: <stateDir>/console-users.',
        format: String,
        default: '',
      },
      sessionHours: {
        doc: 'How long a login lasts.',
        format: positive('http.console.sessionHours'),
        default: 12,
      },
    },
  },
  enrollment: {
    similarFaceRatio: {
      doc: 'A second face at least this fraction of the largest face makes an enrollment photo ambiguous.',
      format: fraction,
      default: DEFAULT_SIMILAR_FACE_RATIO,
    },
    doorCaptures: {
      enabled: {
        doc: "Add the face of a live match with a wide margin to the person's photos (docs/recognition.md: growing the gallery from the door); off: the gallery holds only enrolled photos.",
        format: 'flag',
        default: false,
      },
      maxPerPerson: {
        doc: "Door captures kept per person; a new one replaces the oldest. A sync that changes the person's photos drops them.",
        format: (v: unknown) => {
          if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 20)
            throw new Error('enrollment.doorCaptures.maxPerPerson must be a whole number from 1 to 20');
        },
        default: 3,
      },
      maxDistance: {
        doc: "A capture's distance to the person must be under this fraction of the door's threshold, and under the threshold itself from the person's enrolled photos (not only from earlier captures).",
        format: fraction,
        default: 0.9,
      },
      minMargin: {
        doc: "The runner-up must be farther than the person by at least this fraction of the door's threshold.",
        format: fraction,
        default: 0.1,
      },
    },
  },
};

export type Setting = { key: string; doc: string; default: unknown; env?: string; allowed?: unknown[] };

/** Every setting of the schema, flattened: for `facegate config --print-schema` and the docs. */
export function schemaSettings(node: object = schema, prefix = ''): Setting[] {
  return Object.entries(node).flatMap(([k, v]: [string, Record<string, unknown>]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    if (!('doc' in v)) return schemaSettings(v, key);
    return [
      {
        key,
        doc: v.doc as string,
        default: v.default,
        ...(typeof v.env === 'string' ? { env: v.env } : {}),
        ...(Array.isArray(v.format) ? { allowed: v.format as unknown[] } : {}),
      },
    ];
  });
}

function build(env: NodeJS.ProcessEnv) {
  return convict(schema, { env });
}

export type Config = ReturnType<ReturnType<typeof build>['getProperties']>;

/** How the configured models are opened: folder, providers and their settings. */
export function modelOptions(
  models: Config['models'],
): SessionOptions & { modelsDir?: string; encoder: EncoderName } {
  return {
    ...(models.dir ? { modelsDir: models.dir } : {}),
    providers: models.providers,
    ...(models.engineCacheDir ? { engineCacheDir: models.engineCacheDir } : {}),
    fp16: models.fp16,
    int8: models.int8,
    encoder: models.encoder,
  };
}

/** A config file's JSON; a syntax error says the line and column, not a character offset. */
function readConfigFile(file: string): unknown {
  const text = readFileOrThrow(
    file,
    'CONFIG_INVALID',
    (reason) => `cannot read it: ${fileErrorWords(reason)}`,
  ).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    if (!at) throw new Error(`not valid JSON: ${message}`);
    const before = text.slice(0, Number(at[1]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    throw new Error(
      `not valid JSON at line ${line}, column ${column}: ${message.replace(/ in JSON at position \d+.*$/, '')}`,
    );
  }
}

/** Edit distance between two keys, for "did you mean". */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * convict's messages as a user can act on them: an unknown key gets the nearest known one ("did
 * you mean"), and a bad value set by a FACEGATE_* variable names the variable.
 */
function explain(message: string, env: NodeJS.ProcessEnv): string {
  const settings = schemaSettings();
  return message
    .split('\n')
    .map((line) => {
      const unknown = /^configuration param '([^']+)' not declared in the schema/.exec(line);
      if (unknown) {
        const key = unknown[1]!;
        const [best] = settings
          .map((s) => ({ key: s.key, d: editDistance(key, s.key) }))
          .sort((x, y) => x.d - y.d);
        const hint =
          best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean ${best.key}?)` : '';
        return `${key}: not a setting${hint}`;
      }
      const setting = settings.find((s) => line.startsWith(`${s.key}: `));
      return setting?.env && env[setting.env] !== undefined ? `${line} (set by ${setting.env})` : line;
    })
    .join('\n');
}

/** A camera's liveness settings: the liveness section, with what the camera sets over it. */
export function livenessPolicy(
  config: Pick<Config, 'liveness'>,
  camera?: Pick<CameraEntry, 'liveness'>,
): LivenessPolicy {
  return { ...config.liveness, ...camera?.liveness };
}

/**
 * A value from the command line (`--set key=value`, `run --camera ...`) that goes over the file and
 * the environment, validated with them. 'append' adds to a list instead of replacing it.
 */
export type ConfigOverride = { key: string; value: unknown; append?: boolean };

/**
 * Defaults, then `file` (JSON) if given, then the environment, then `overrides`; every problem
 * listed with its key.
 */
/** 127.0.0.0/8, ::1 and localhost: addresses no other machine reaches. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

export function loadConfig(
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: readonly ConfigOverride[] = [],
): Config {
  try {
    const config = build(env);
    if (file) config.load(readConfigFile(file));
    for (const o of overrides) {
      // Keys outside the schema are still set, so strict validation below names them.
      const c = config as unknown as {
        get(k: string): unknown;
        set(k: string, v: unknown): void;
        has(k: string): boolean;
      };
      const current = c.has(o.key) ? c.get(o.key) : undefined;
      c.set(
        o.key,
        o.append && Array.isArray(current) ? [...(current as unknown[]), ...(o.value as unknown[])] : o.value,
      );
    }
    config.validate({ allowed: 'strict' });
    const result = config.getProperties();
    if (result.match.comparator !== 'distance' && !result.match.headFile)
      throw new Error(`match.headFile: the ${result.match.comparator} comparator needs the head's file`);
    for (const camera of [undefined, ...result.cameras]) {
      const l = livenessPolicy(result, camera);
      if (l.minFrames > l.maxFrames)
        throw new Error(
          `${camera ? `cameras: "${camera.name}": liveness` : 'liveness'}: minFrames (${l.minFrames}) must not exceed maxFrames (${l.maxFrames})`,
        );
    }
    if (
      !isLoopback(result.http.host) &&
      result.http.enabled &&
      (!result.http.tls.certFile || !result.http.tls.keyFile)
    )
      throw new Error(
        `http.host ${result.http.host}: the console, the API and the metrics would leave this machine; set http.tls.certFile and http.tls.keyFile (HTTPS), or keep http.host 127.0.0.1`,
      );
    const cameraNames = new Set(result.cameras.map((c) => c.name));
    for (const door of result.doors)
      for (const camera of door.cameras)
        if (!cameraNames.has(camera))
          throw new Error(
            `doors: "${door.name}": camera "${camera}" is not in cameras (${[...cameraNames].join(', ') || 'none configured'})`,
          );
    if (result.models.int8 && result.models.encoder !== 'dlib')
      throw new Error(
        `models.int8: only the dlib encoder has an int8 graph; models.encoder is ${result.models.encoder} (docs/models.md)`,
      );
    // A capture is checked against the enrolled photos by distance, the threshold's own scale.
    if (result.enrollment.doorCaptures.enabled && result.match.comparator !== 'distance')
      throw new Error(
        `enrollment.doorCaptures.enabled: needs match.comparator 'distance'; it is '${result.match.comparator}'`,
      );
    return result;
  } catch (err) {
    const where = file ? `${file}: ` : '';
    // convict ends a message with ": value was <the value>": for the camera list each line
    // already names its entry, and any URL in it may carry a password.
    const message = explain(
      redactText((err as Error).message.replace(/^((?:cameras|doors): [\s\S]*?): value was \[.*$/m, '$1')),
      env,
    );
    throw new FacegateError(
      'CONFIG_INVALID',
      `${where}invalid configuration:\n  ${message.split('\n').join('\n  ')}`,
    );
  }
}
