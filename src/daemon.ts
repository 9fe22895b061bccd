// The composition root: builds every stage from the validated config, starts them in dependency
// order (models, gallery, MQTT, gallery sync, cameras) and stops them in reverse. Per camera,
// one loop takes the newest frame, skips it when motion gating says nothing changed, waits for
// its turn at the shared inference queue and hands it to the camera's recognition stage
// (recognition/stage.ts), whose decisions become events, snapshots and doors' access events.
// Constructing does no I/O; start() does. Under systemd it reports READY=1 when it can decide,
// and pings the watchdog only while every camera that delivers frames gets them analysed.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CameraSource, type CameraState } from './camera/camera-source.js';
import type { Frame } from './camera/frame-parser.js';
import { MotionGate } from './camera/motion.js';
import { exposure } from './config/files.js';
import { livenessPolicy, modelOptions, type Config } from './config/schema.js';
import { prepareDemo } from './demo.js';
import { FacegateEvents } from './events/events.js';
import { EmbeddedBroker } from './events/embedded-broker.js';
import { mqttOptions, signingKey } from './events/from-config.js';
import { HomeAssistantDiscovery } from './events/home-assistant.js';
import { eventId } from './events/ids.js';
import { Outbox } from './events/outbox.js';
import { MqttPublisher } from './events/publisher.js';
import { topicSegment, type LivenessReport } from './events/topics.js';
import { reembedGallery } from './gallery/enroll.js';
import { Matcher, type GallerySearch } from './gallery/matcher.js';
import { PairHeadMatcher } from './gallery/pair-matcher.js';
import { connectGalleryToMqtt } from './gallery/mqtt.js';
import { DOOR_CAPTURE_SOURCE, GalleryStore, sha256 } from './gallery/store.js';
import { captureRefusal } from './gallery/door-captures.js';
import { gallerySource, GallerySyncer } from './gallery/syncer.js';
import { ENCODER_THRESHOLDS, FaceEngine, doorThreshold, type Face } from './inference/faces.js';
import { fallbackOf } from './inference/self-check.js';
import { HeadModel } from './inference/head.js';
import { InferenceQueue } from './inference/queue.js';
import { HealthServer, Metrics, type HealthProbe, type Progress } from './http/server.js';
import type { SystemdNotifier } from './service/notify.js';
import { DoorPolicy } from './doors/policy.js';
import { jpegOf, type SnapshotKind } from './events/snapshots.js';
import { PrivateState } from './privacy/state.js';
import { ConsoleApi } from './console/api.js';
import { AttemptLog, type Attempt } from './console/attempts.js';
import { ConsoleAuth } from './console/auth.js';
import { daemonBackend } from './console/backend.js';
import { LiveView } from './console/live.js';
import { readConfiguredFile } from './config/files.js';
import { RETENTION_KINDS, sweep } from './privacy/retention.js';
import { CameraRecognition, type Decision, type Evidence } from './recognition/stage.js';
import { sameFaceSpread, trackerOptionsFrom } from './recognition/tracker.js';
import type { LivenessPolicy, LivenessVerdict } from './recognition/liveness.js';
import { VERSION } from './project.js';
import sharp from './vision/libvips.js';

export type Log = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

const LEVELS = { info: 0, warn: 1, error: 2 } as const;

/** One JSON line per message on stderr, at `minLevel` and above: journald keeps it, tools parse it. */
export function jsonLogger(minLevel: keyof typeof LEVELS = 'info'): Log {
  return (level, message, fields = {}) => {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
    );
  };
}

export const jsonLog: Log = jsonLogger('info');

export type DaemonStats = {
  frames: number;
  /** Frames dropped as older than pipeline.maxFrameAgeMs when their analysis would start. */
  framesStale: number;
  /** Frames not analysed by motion gating: nothing changed since the last analysed frame. */
  framesUnchanged: number;
  /** Each analysed frame's age when its analysis started, ms, last 1000. */
  frameAges: number[];
  faces: number;
  unusable: number;
  matches: number;
  unknowns: number;
  /** Tracks that matched a person but were not live (liveness mode 'require'). */
  spoofs: number;
  /** Milliseconds from a frame's arrival to the event it produced, last 100. */
  latencies: number[];
  /** Milliseconds from a frame's arrival to the end of its analysis (queue wait included), last 1000. */
  frameLatencies: number[];
};

/** Config sections that take effect on SIGHUP; everything else needs a restart. */
const LIVE_SECTIONS = ['match', 'quality', 'detector'] as const;
const LIVE_KEYS = new Set(['recognition.mirror', 'recognition.mirrorBand', 'recognition.reportUnusable']);
/** Inside the live sections, but the models they name are loaded at start. */
const RESTART_KEYS = new Set(['match.comparator', 'match.headFile']);

/** Appends to a list that keeps only its newest `max` values. */
function pushRecent(list: number[], value: number, max: number): void {
  if (list.push(value) > max) list.shift();
}

/** Sets the key a.b.c of `target` to its value in `source`. */
function copyKey(target: object, source: object, key: string): void {
  const path = key.split('.');
  const last = path.pop()!;
  let t = target as Record<string, unknown>;
  let s = source as Record<string, unknown>;
  for (const p of path) {
    t = t[p] as Record<string, unknown>;
    s = s[p] as Record<string, unknown>;
  }
  t[last] = structuredClone(s[last]);
}

/** Leaf keys (a.b.c) whose values differ between two configs. */
function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      changedKeys(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        prefix ? `${prefix}.${k}` : k,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

export type DaemonOptions = {
  /** sd_notify under systemd (SystemdNotifier.fromEnv); undefined elsewhere. */
  notifier?: SystemdNotifier;
  /** How long start() waits for the broker before declaring READY anyway (events wait in the outbox). */
  brokerWaitMs?: number;
  /** How long stop() lets frames in analysis finish. */
  drainMs?: number;
};

export class Daemon {
  private engine: FaceEngine | undefined;
  private store: GalleryStore | undefined;
  private matcher: { version: number; matcher: GallerySearch } | undefined;
  /** The binary head, when match.comparator is binary-head (a triplet head lives in the engine). */
  private pairHead: HeadModel | undefined;
  private outbox: Outbox | undefined;
  private publisher: MqttPublisher | undefined;
  private broker: EmbeddedBroker | undefined;
  private events: FacegateEvents | undefined;
  private syncer: GallerySyncer | undefined;
  private queue: InferenceQueue | undefined;
  private readonly cameras: CameraSource[] = [];
  private readonly loops: Promise<void>[] = [];
  /** Camera name -> when its last frame was analysed. */
  private readonly analysedAt = new Map<string, number>();
  /** The audit log, snapshots and keys of the state directory. */
  private state: PrivateState | undefined;
  /** Every face decided on, for the console (console/attempts.ts). */
  private attempts: AttemptLog | undefined;
  /** Browsers watching a camera (console/live.ts): frames are drawn only for them. */
  readonly live = new LiveView();
  private discovery: HomeAssistantDiscovery | undefined;
  /** Who may enter where: doors, their refusals and lockouts (fixed at start). */
  private readonly doors: DoorPolicy;
  /** Camera name -> its liveness settings (fixed at start, as its tracker is). */
  private readonly liveness = new Map<string, LivenessPolicy>();
  private running = false;
  private timers: NodeJS.Timeout[] = [];
  readonly metrics = new Metrics();
  private http: HealthServer | undefined;
  /** The port /metrics and the health checks listen on, once started. */
  httpPort: number | undefined;
  /** The broker events go to (configured, embedded, or the one found on the embedded port). */
  mqttUrl: string | undefined;
  readonly stats: DaemonStats = {
    frames: 0,
    framesStale: 0,
    framesUnchanged: 0,
    frameAges: [],
    faces: 0,
    unusable: 0,
    matches: 0,
    unknowns: 0,
    spoofs: 0,
    latencies: [],
    frameLatencies: [],
  };
  /** This device in events and topics; set from the MQTT options at start. */
  private deviceId = hostname();
  private stallLogged = false;

  constructor(
    private config: Config,
    private readonly log: Log = jsonLog,
    private readonly options: DaemonOptions = {},
  ) {
    this.doors = new DoorPolicy(config.doors);
  }

  async start(): Promise<void> {
    const c = this.config;
    this.running = true;
    // First: a missing or wrong encryption key stops facegate before anything is loaded.
    this.state = new PrivateState(c, c.stateDir);
    this.attempts = new AttemptLog(join(c.stateDir, 'attempts.sqlite'));
    this.log(
      'info',
      this.state.sealers
        ? 'photos, embeddings, snapshots and queued events are encrypted at rest'
        : 'encryption at rest is off (encryption.keyFile): photos and embeddings are stored unencrypted',
    );
    const head = c.match.comparator === 'distance' ? undefined : await HeadModel.open(c.match.headFile);
    this.engine = await FaceEngine.open({
      ...modelOptions(c.models),
      ...(head && c.match.comparator === 'triplet-head' ? { projection: head } : {}),
    });
    if (head && c.match.comparator === 'binary-head') {
      this.pairHead = head; // released at stop, also when it does not fit
      head.assertFits('binary', this.engine.encoderId);
    }
    this.log('info', 'models loaded', {
      providers: this.engine.providers,
      encoder: this.engine.encoderId.slice(0, 12),
      comparator: c.match.comparator,
      threshold: this.threshold,
    });
    for (const [model, provider] of Object.entries(this.engine.providers))
      this.metrics.provider.set({ model, provider }, 1);
    const check = this.engine.selfCheck;
    if (check) {
      if (check.passed) this.log('info', `encoder self-check passed: ${check.running} runs`, check);
      else this.log('error', `encoder self-check failed: ${fallbackOf(check)}`, check);
      this.metrics.encoderSelfCheck.set(
        {
          requested: check.requested,
          running: check.running,
          self_check: check.passed ? 'passed' : 'failed',
        },
        1,
      );
      if (check.maxDistance !== null) this.metrics.encoderSelfCheckDistance.set(check.maxDistance);
    }

    // Nothing configured: the demo camera, so a fresh `make run` shows facegate at work. The
    // config itself stays as given.
    this.store = this.state.gallery('daemon');
    const cameras = c.cameras.length ? c.cameras : [await prepareDemo(c, this.engine, this.store)];
    if (!c.cameras.length) {
      this.log('info', 'no camera configured: playing the demo clip (docs/cameras.md)', {
        url: cameras[0]!.url,
      });
    }
    const re = await reembedGallery(this.engine, this.store);
    if (re.embedded || re.failed.length) this.log('warn', 'gallery re-embedded for this encoder', re);

    // A password or TLS key others can read: said, not refused (the broker's side can change it).
    for (const [key, file] of [
      ['mqtt.passwordFile', c.mqtt.passwordFile],
      ['mqtt.keyFile', c.mqtt.keyFile],
    ] as const) {
      const exposed = file && exposure(file, key);
      if (exposed) this.log('warn', exposed);
    }
    this.mqttUrl = c.mqtt.url || (c.mqtt.embedded.enabled ? await this.startEmbeddedBroker() : undefined);
    if (this.mqttUrl) {
      const options = { ...mqttOptions(c), url: this.mqttUrl };
      this.deviceId = options.deviceId;
      this.outbox = new Outbox(join(c.stateDir, 'outbox.sqlite'), {
        maxEvents: c.mqtt.outboxMaxEvents,
        fsync: c.mqtt.outboxFsync,
        ...(this.state.sealers ? { sealer: this.state.sealers.data } : {}),
      });
      this.publisher = new MqttPublisher(options, this.outbox, (level, message) => this.log(level, message));
      this.events = new FacegateEvents(this.publisher, signingKey(c));
      this.publisher.start();
      if (c.mqtt.homeAssistant.enabled) {
        const ha = c.mqtt.homeAssistant;
        const store = this.store;
        this.discovery = new HomeAssistantDiscovery(
          this.publisher,
          {
            discoveryPrefix: ha.discoveryPrefix,
            deviceId: this.deviceId,
            deviceName: `facegate ${this.deviceId}`,
            version: VERSION,
            presenceSeconds: ha.presenceSeconds,
          },
          () => ({
            cameras: cameras.map((x) => x.name),
            doors: c.doors.map((d) => d.name),
            people: store.listPeople(),
          }),
          join(c.stateDir, 'home-assistant-entities.json'),
        );
        this.discovery.start();
      }
    }

    this.sweep();
    // Often enough that no snapshot outlives its time by much: half the shortest, 1 s to 1 h.
    const shortest = Math.min(...Object.values(c.snapshots.keepSeconds).filter((s) => s > 0));
    const every = Math.min(3600, Math.max(1, Number.isFinite(shortest) ? shortest / 2 : 3600)) * 1000;
    this.timers.push(setInterval(() => this.sweep(), every));

    const source = gallerySource(c);
    if (source) {
      this.syncer = new GallerySyncer(this.engine, this.store, source, c);
      this.syncer.on('report', (r) =>
        this.log(
          r.status === 'rejected' || r.status === 'failed' ? 'warn' : 'info',
          `gallery sync ${r.status}`,
          { ...r },
        ),
      );
      if (this.publisher) connectGalleryToMqtt(this.syncer, this.publisher);
      this.syncer.start();
    }

    this.queue = new InferenceQueue(c.pipeline.concurrentFrames);
    for (const cam of cameras) {
      const source = new CameraSource(cam);
      source.on('state', (s) => this.cameraState(s));
      this.cameras.push(source);
      source.start();
      this.loops.push(this.cameraLoop(source));
    }
    if (c.http.enabled) {
      const tls = c.http.tls.certFile
        ? {
            cert: readConfiguredFile(c.http.tls.certFile, 'http.tls.certFile'),
            key: readConfiguredFile(c.http.tls.keyFile, 'http.tls.keyFile'),
          }
        : undefined;
      const auth = new ConsoleAuth(c.http.console.usersFile || join(c.stateDir, 'console-users'), {
        secure: tls !== undefined,
        sessionSeconds: c.http.console.sessionHours * 3600,
        maxFailures: 5,
        windowSeconds: 60,
      });
      const api = c.http.console.enabled ? this.consoleApi(auth) : undefined;
      this.http = new HealthServer(this.metrics, this.healthProbe(), {
        ...(tls ? { tls } : {}),
        ...(api ? { handle: (req, res) => api.handle(req, res) } : {}),
        authorised: (req) => auth.principal(req) !== undefined,
      });
      this.httpPort = await this.http.start(c.http.host, c.http.port);
      const base = `${tls ? 'https' : 'http'}://${c.http.host}:${this.httpPort}`;
      this.log('info', `health and metrics on ${base}/metrics${api ? `, the console on ${base}/` : ''}`);
      if (api && !auth.configured)
        this.log('warn', 'no console user yet: facegate console passwd (docs/console.md)');
    }
    await this.waitForBroker();
    this.log('info', 'facegate running', {
      cameras: cameras.map((x) => x.name),
      gallery: this.store.peopleCount,
      mqtt: this.publisher?.redactedUrl,
    });
    this.startSystemdReporting();
  }

  /** The console and API over this daemon's parts (console/backend.ts). */
  private consoleApi(auth: ConsoleAuth): ConsoleApi {
    const backend = daemonBackend({
      config: () => this.config,
      engine: this.engine!,
      store: this.store!,
      state: this.state!,
      attempts: this.attempts!,
      live: this.live,
      matcher: () => this.currentMatcher(),
      threshold: () => this.threshold,
      syncer: this.syncer,
      cameras: () => Object.entries(this.progress().cameras).map(([name, s]) => ({ name, ...s })),
      reload: (next) => this.reload(next),
    });
    return new ConsoleApi(backend, auth, (user, ok, address) => {
      this.state?.audit.append('console.login', `api:${user}`, user, { ok, address });
      if (!ok) this.log('warn', `console: failed login for "${user}" from ${address}`);
    });
  }

  /** The embedded broker's URL; if its port is taken, the broker already listening there. */
  private async startEmbeddedBroker(): Promise<string> {
    const { host, port } = this.config.mqtt.embedded;
    try {
      this.broker = await EmbeddedBroker.start(host, port);
      this.log('info', `no mqtt.url configured: embedded MQTT broker on ${this.broker.url}`);
      return this.broker.url;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      const url = `mqtt://${host}:${port}`;
      this.log('warn', `no mqtt.url configured and ${host}:${port} is taken: publishing to the broker there`);
      return url;
    }
  }

  /**
   * READY waits for the broker a while, so a door controller is reachable when systemd says the
   * service is up; a broker that stays away does not hold the cameras back (events wait in the
   * outbox), it is logged and /readyz says so.
   */
  private async waitForBroker(): Promise<void> {
    const publisher = this.publisher;
    if (!publisher) return;
    const deadline = Date.now() + (this.options.brokerWaitMs ?? 10_000);
    while (!publisher.stats.connected && Date.now() < deadline && this.running)
      await new Promise((r) => setTimeout(r, 50));
    if (!publisher.stats.connected)
      this.log('warn', `broker ${publisher.redactedUrl} not reachable yet: events wait in the outbox`);
  }

  private startSystemdReporting(): void {
    const notifier = this.options.notifier;
    if (!notifier) return;
    notifier.ready(this.statusLine());
    const interval = notifier.watchdogIntervalMs;
    if (interval !== undefined) {
      this.timers.push(setInterval(() => this.watchdogTick(notifier), interval));
      this.log('info', `systemd watchdog: pinging every ${interval} ms while the pipeline makes progress`);
    }
    this.timers.push(setInterval(() => notifier.send({ STATUS: this.statusLine() }), 10_000));
  }

  private watchdogTick(notifier: SystemdNotifier): void {
    const p = this.progress();
    if (p.ok) {
      notifier.watchdog();
      this.stallLogged = false;
    } else if (!this.stallLogged) {
      // Once per stall: systemd restarts facegate when WatchdogSec passes without a ping.
      this.stallLogged = true;
      this.log('error', 'pipeline stalled: withholding the watchdog ping', { stalled: p.stalled });
    }
  }

  /** Frames the cameras delivered, whatever became of them. */
  get framesReceived(): number {
    return this.cameras.reduce((n, c) => n + c.stats.framesReceived, 0);
  }

  /** Frames the cameras delivered that were replaced by newer ones before analysis. */
  get framesDropped(): number {
    return this.cameras.reduce((n, c) => n + c.stats.framesDropped, 0);
  }

  private statusLine(): string {
    const online = this.cameras.filter((c) => c.state.state === 'online').length;
    return `${online}/${this.cameras.length} cameras online, ${this.store?.peopleCount ?? 0} people, ${this.stats.matches} matches, ${this.stats.unknowns} unknown`;
  }

  /**
   * The rule behind /healthz and the watchdog: every camera that delivers frames has one
   * analysed within pipeline.stallSeconds. A camera that is down is the camera supervisor's
   * business (it reconnects, and says so in camera status), not a reason to restart facegate.
   */
  progress(now = Date.now()): Progress {
    const stallMs = this.config.pipeline.stallSeconds * 1000;
    const stalled = this.cameras
      .filter((cam) => {
        const s = cam.state;
        if (s.state !== 'online') return false;
        const since = Math.max(this.analysedAt.get(cam.config.name) ?? 0, Date.parse(s.at));
        return now - since > stallMs;
      })
      .map((cam) => cam.config.name);
    const last = Math.max(0, ...this.analysedAt.values());
    const cameras = Object.fromEntries(
      this.cameras.map(({ config, state: s }) => [
        config.name,
        { state: s.state, since: s.at, ...(s.reason ? { reason: s.reason } : {}) },
      ]),
    );
    return { ok: stalled.length === 0, stalled, since_last_frame_ms: last ? now - last : null, cameras };
  }

  private healthProbe(): HealthProbe {
    return {
      progress: () => this.progress(),
      ready: () => {
        const reasons: string[] = [];
        if (!this.engine) reasons.push('models not loaded');
        if (!this.store) reasons.push('gallery not loaded');
        if (this.publisher && !this.publisher.stats.connected) reasons.push('broker not connected');
        const check = this.engine?.selfCheck;
        const warnings = check && !check.passed ? [`encoder: ${fallbackOf(check)}: ${check.reason}`] : [];
        return { ok: reasons.length === 0, reasons, warnings, ...(check ? { encoder: check } : {}) };
      },
      refresh: () => {
        if (this.publisher) {
          const s = this.publisher.stats;
          this.metrics.outboxDepth.set(s.queued);
          for (const [kind, n] of Object.entries(s.dropped)) this.metrics.outboxDropped.set({ kind }, n);
          for (const [kind, n] of Object.entries(s.expired)) this.metrics.outboxExpired.set({ kind }, n);
        }
        if (this.store) {
          this.metrics.galleryPeople.set(this.store.peopleCount);
          this.metrics.galleryVersion.set(this.store.version);
        }
        this.metrics.queueDepth.set(this.queue?.depth ?? 0);
        this.metrics.refreshMemory(sharp.cache().memory.current * 1024 * 1024);
        for (const cam of this.cameras)
          this.metrics.framesDropped.set({ camera: cam.config.name }, cam.stats.framesDropped);
      },
    };
  }

  /**
   * SIGHUP: thresholds, gates and detector settings take effect from the next frame; the gallery
   * is read again and, with a source, synced now. Returns the changed keys that need a restart
   * (they are logged and keep their old values).
   */
  async reload(next: Config): Promise<{ applied: string[]; needRestart: string[] }> {
    const changed = changedKeys(this.config, next);
    const live = (k: string) =>
      !RESTART_KEYS.has(k) && (LIVE_SECTIONS.some((s) => k.startsWith(`${s}.`)) || LIVE_KEYS.has(k));
    const applied = changed.filter(live);
    const needRestart = changed.filter((k) => !live(k));
    const updated = structuredClone(this.config);
    for (const key of applied) copyKey(updated, next, key);
    this.config = updated;
    this.matcher = undefined; // rebuilt from the store on the next frame
    this.log('info', 'configuration reloaded', { applied });
    this.state?.audit.append('config.reload', 'daemon', 'config', { applied, needRestart });
    if (needRestart.length) this.log('warn', 'changed settings that need a restart', { keys: needRestart });
    if (this.syncer) await this.syncer.syncNow();
    return { applied, needRestart };
  }

  /** `id`: a decision's event id, so that the console and the events name it alike. */
  private recordAttempt(
    a: Omit<Attempt, 'id' | 'at' | 'threshold' | 'wrong' | 'enrolledAs'>,
    id = eventId(),
  ): void {
    try {
      this.attempts?.add({
        ...a,
        id,
        at: new Date().toISOString(),
        threshold: this.threshold,
        wrong: null,
        enrolledAs: null,
      });
    } catch (err) {
      this.log('error', `attempt not recorded: ${(err as Error).message}`);
    }
  }

  /** The retention sweep (privacy/retention.ts), counted in the metrics. */
  private sweep(): void {
    if (!this.state || !this.store) return;
    try {
      const report = sweep(this.state, this.store, this.outbox, {
        auditDays: this.config.retention.auditDays,
        markedDays: this.config.retention.markedDays,
        maxEventAgeSeconds: this.config.mqtt.maxEventAgeSeconds,
      });
      for (const kind of RETENTION_KINDS) this.metrics.retentionDeleted.inc({ kind }, report[kind]);
      // Attempts go with their snapshots; an unusable face's (it has none) with an unknown's.
      const keep = this.config.snapshots.keepSeconds;
      for (const kind of ['match', 'unknown', 'spoof', 'unusable'] as const) {
        const seconds = keep[kind === 'unusable' ? 'unknown' : kind];
        this.attempts?.prune(kind, new Date(Date.now() - Math.max(seconds, 3600) * 1000));
      }
      this.metrics.retentionSweep.setToCurrentTime();
      if (report.person_expired) this.log('info', 'retention: people past their retainUntil wiped', report);
    } catch (err) {
      this.log('error', `retention sweep failed: ${(err as Error).message}`);
    }
  }

  private cameraState(s: CameraState): void {
    this.metrics.cameraUp.set({ camera: s.camera }, s.state === 'online' ? 1 : 0);
    this.log(s.state === 'offline' ? 'warn' : 'info', `camera ${s.camera} ${s.state}`, { ...s });
    this.events?.cameraStatus(s.camera, {
      state: s.state,
      at: s.at,
      ...(s.reason ? { reason: s.reason } : {}),
    });
  }

  /** The decision threshold of the configured comparator. */
  private get threshold(): number {
    const m = this.config.match;
    const distance = doorThreshold(this.config);
    if (m.comparator === 'distance') return distance;
    if (m.headThreshold > 0) return m.headThreshold;
    return (this.pairHead?.manifest ?? this.engine?.projectionManifest)?.threshold ?? distance;
  }

  /**
   * How far apart two faces of one track may be and still be one person (fusion.maxSpread): the
   * encoder's pairs threshold, or the door's own threshold where that is looser or a head's.
   */
  private get trackSpread(): number {
    const c = this.config;
    return c.match.comparator === 'distance'
      ? sameFaceSpread(this.threshold, ENCODER_THRESHOLDS[c.models.encoder])
      : this.threshold;
  }

  /** The search for the gallery as it is now; rebuilt when the gallery version changes. */
  private async currentMatcher(): Promise<GallerySearch> {
    const version = this.store!.version;
    if (this.matcher?.version !== version) {
      const old = this.matcher?.matcher;
      const entries = this.store!.entries(this.engine!.encoderId);
      const aggregation = this.config.match.aggregation as 'mean' | 'best';
      this.matcher = {
        version,
        matcher: this.pairHead
          ? PairHeadMatcher.create(entries, aggregation, this.pairHead)
          : await Matcher.create(entries, aggregation),
      };
      await old?.release();
      this.discovery?.update(); // people came or went: their presence entities too
    }
    return this.matcher.matcher;
  }

  private async cameraLoop(camera: CameraSource): Promise<void> {
    const c = this.config;
    const name = camera.config.name;
    const liveness = livenessPolicy(c, camera.config);
    this.liveness.set(name, liveness);
    const recognition = new CameraRecognition({
      engine: this.engine!,
      gallery: () => this.currentMatcher(),
      settings: () => this.config,
      threshold: () => this.threshold,
      tracker: trackerOptionsFrom(c.recognition, this.trackSpread, liveness),
    });
    const motion = c.pipeline.motion.enabled ? new MotionGate(c.pipeline.motion) : undefined;
    /** Faces the last analysed frame showed. */
    let lastFaces = 0;
    while (this.running) {
      const seen = await camera.nextArrival();
      if (!seen || !this.running) return;
      if (motion && recognition.pendingTracks === 0 && !motion.changed(seen.thumbnail, Date.now())) {
        // The picture the last analysis saw, and no face in it waits for votes: what that analysis
        // found still stands, without waiting for the inference slot (or copying the pixels).
        recognition.unchanged(seen.capturedAt, lastFaces);
        this.stats.framesUnchanged++;
        this.metrics.framesUnchanged.inc({ camera: name });
        this.analysedAt.set(name, Date.now());
        continue;
      }
      await this.queue!.run(async () => {
        if (!this.running) return;
        // The turn may have taken a while: decide on the newest frame, not the one seen.
        const frame = await camera.take();
        if (!frame) return; // the camera's session ended meanwhile
        const age = Date.now() - frame.capturedAt;
        if (age > c.pipeline.maxFrameAgeMs) {
          // Even the newest frame is old (a stalled camera, a long wait for the queue): what it
          // shows may be gone from the door.
          this.stats.framesStale++;
          this.metrics.framesStale.inc({ camera: name });
          return;
        }
        motion?.analysed(frame.thumbnail, Date.now());
        pushRecent(this.stats.frameAges, age, 1000);
        try {
          lastFaces = await this.analyzeFrame(name, recognition, frame, age);
        } catch (err) {
          this.log('error', `camera ${name}: frame failed`, { error: (err as Error).message });
        }
      });
    }
  }

  /**
   * One frame through the camera's recognition stage, counted, and its decisions published.
   * `age`: how old the frame was when its analysis started (ms since its arrival). Returns how
   * many faces it showed.
   */
  private async analyzeFrame(
    camera: string,
    recognition: CameraRecognition,
    frame: Frame,
    age: number,
  ): Promise<number> {
    this.stats.frames++;
    const started = performance.now();
    const { faces, unusable, decisions, timings } = await recognition.analyze(frame);
    this.stats.faces += faces.length;
    this.stats.unusable += unusable;
    if (faces.length - unusable) this.metrics.faces.inc({ camera, usable: 'yes' }, faces.length - unusable);
    if (unusable) this.metrics.faces.inc({ camera, usable: 'no' }, unusable);
    for (const [stage, ms] of Object.entries(timings))
      this.metrics.stageSeconds.observe({ stage }, ms / 1000);
    for (const d of decisions) this.decide(camera, d, frame.capturedAt, age);
    if (this.live.watching(camera))
      this.live.frame(camera, frame, faces).catch((err: Error) => {
        this.log('warn', `live view of ${camera}: ${err.message}`);
      });
    this.metrics.frames.inc({ camera });
    this.metrics.frameSeconds.observe((performance.now() - started) / 1000);
    this.analysedAt.set(camera, Date.now());
    pushRecent(this.stats.frameLatencies, Date.now() - frame.capturedAt, 1000);
    return faces.length;
  }

  private eventBase(camera: string, box: Face['box']) {
    return {
      event_id: eventId(),
      time: new Date().toISOString(),
      device: this.deviceId,
      camera: topicSegment(camera),
      box: [box.x, box.y, box.width, box.height].map((v) => Math.round(v)) as [
        number,
        number,
        number,
        number,
      ],
    };
  }

  /**
   * `capturedAt`: when the frame that completed the decision arrived, for the latency; `age`: how
   * old it was when its analysis started.
   */
  private decide(camera: string, d: Decision, capturedAt: number, age: number): void {
    const c = this.config;
    if (d.kind === 'unusable') {
      this.log('info', `camera ${camera}: face seen but not usable`, {
        gate: d.gate,
        reason: d.reason,
        frames: d.frames,
      });
      this.metrics.decisions.inc({ camera, kind: 'face_unusable' });
      this.recordAttempt({
        camera,
        kind: 'unusable',
        person: null,
        nearest: null,
        quality: null,
        liveness: null,
        reason: `${d.gate}: ${d.reason}`,
        snapshot: null,
      });
      if (c.recognition.reportUnusable)
        this.events?.faceUnusable({
          ...this.eventBase(camera, d.box),
          frames: d.frames,
          gate: d.gate,
          reason: d.reason,
        });
      return;
    }
    const ev = d.evidence;
    if (!ev) return;
    const snapshot = this.snapshot(camera, d.kind, ev, d.kind === 'unknown' ? undefined : d.personId);
    const q = ev.face.quality;
    const base = {
      ...this.eventBase(camera, ev.face.box),
      quality: {
        score: q.score,
        eye_distance: q.eyeDistance,
        sharpness: q.sharpness,
        yaw: q.yaw,
        roll: q.roll,
      },
      frames: d.frames,
      captured_at: new Date(capturedAt).toISOString(),
      frame_age_ms: Math.round(age),
      gallery_version: this.store!.version,
      snapshot,
      model: this.engine!.encoderId,
    };
    const latency = Date.now() - capturedAt;
    pushRecent(this.stats.latencies, latency, 100);
    this.metrics.decisions.inc({ camera, kind: d.kind });
    this.metrics.eventLatency.observe(latency / 1000);
    const person = d.kind === 'unknown' ? undefined : this.store!.getPerson(d.personId);
    const named = d.kind === 'unknown' ? null : { id: d.personId, name: person?.name ?? d.personId };
    const liveness = d.kind === 'unknown' ? undefined : this.livenessReport(camera, d.liveness);
    const nearest = d.kind === 'unknown' ? ev.nearest : { id: d.personId, distance: ev.distance };
    this.recordAttempt(
      {
        camera,
        kind: d.kind,
        person: named?.id ?? null,
        nearest: nearest ? { id: nearest.id, distance: nearest.distance } : null,
        quality: base.quality,
        liveness: liveness ?? null,
        reason: null,
        snapshot,
      },
      base.event_id,
    );
    this.live.label(camera, {
      box: ev.face.box,
      label: d.kind === 'unknown' ? 'unknown' : `${named!.name}${d.kind === 'spoof' ? ' (spoof)' : ''}`,
      kind: d.kind === 'unknown' ? 'other' : d.kind,
    });
    if (d.kind === 'spoof') {
      this.stats.spoofs++;
      const event = {
        ...base,
        person: named!,
        distance: ev.distance,
        threshold: this.threshold,
        liveness: liveness!,
      };
      this.log('warn', `spoof at ${camera}: a face like ${d.personId} did not move as a head does`, {
        event_id: event.event_id,
        liveness: event.liveness,
      });
      this.events?.spoof(event);
    } else if (d.kind === 'match') {
      this.stats.matches++;
      const event = {
        ...base,
        person: named!,
        distance: ev.distance,
        similarity: Math.max(0, Math.min(1, 1 - ev.distance / this.threshold)),
        threshold: this.threshold,
        margin: ev.margin,
        decided_by: d.by,
        liveness: liveness!,
      };
      this.log('info', `match ${d.personId} at ${camera}`, {
        event_id: event.event_id,
        distance: ev.distance,
        votes: d.votes,
        decided_by: d.by,
        live: event.liveness.live,
        latency_ms: latency,
      });
      this.events?.match(event);
      if (event.liveness.live !== false) this.events?.presence(d.personId);
      if (c.enrollment.doorCaptures.enabled)
        this.captureFromDoor(camera, d.personId, ev, event.liveness.live, event.event_id).catch(
          (err: Error) =>
            this.log('warn', `door capture of ${d.personId} at ${camera} not kept: ${err.message}`),
        );
    } else {
      this.stats.unknowns++;
      const event = { ...base, nearest: ev.nearest ?? null, threshold: this.threshold };
      this.log('info', `unknown face at ${camera}`, {
        event_id: event.event_id,
        nearest: ev.nearest,
        latency_ms: latency,
      });
      this.events?.unknown(event);
    }
    // What each door the camera serves does about it.
    const access = this.doors.decide({
      camera,
      kind: d.kind,
      ...(named ? { person: { ...named, metadata: person?.metadata ?? {} } } : {}),
      live: liveness?.live ?? null,
      votes: d.kind === 'match' ? d.votes : 0,
      margin: ev.margin,
      capturedAt,
    });
    for (const a of access) {
      this.metrics.access.inc({ door: a.door, result: a.result, reason: a.reason ?? '' });
      const accessId = eventId();
      this.state?.audit.append('access', 'daemon', a.door, {
        result: a.result,
        ...(a.reason ? { reason: a.reason } : {}),
        camera,
        person: named?.id ?? null,
        decision: { kind: d.kind, event_id: base.event_id },
        event_id: accessId,
      });
      this.log(
        a.result === 'granted' ? 'info' : 'warn',
        `door ${a.door}: ${a.result}${a.reason ? ` (${a.reason})` : ''}`,
        {
          person: named?.id,
          decision: base.event_id,
        },
      );
      this.events?.access({
        event_id: accessId,
        time: new Date().toISOString(),
        device: this.deviceId,
        door: a.door,
        camera: base.camera,
        result: a.result,
        reason: a.reason,
        person: named,
        decision: { kind: d.kind, event_id: base.event_id },
        captured_at: base.captured_at,
        snapshot,
      });
    }
  }

  /**
   * Keeps the decision's face crop and publishes it (in the background: encoding takes a few ms);
   * returns its id, or null when this kind keeps none.
   */
  private snapshot(camera: string, kind: SnapshotKind, ev: Evidence, personId?: string): string | null {
    if (!this.state?.snapshots.keeps(kind)) return null;
    const id = eventId();
    this.state.snapshots
      .save(kind, id, ev.crop, personId)
      .then((jpeg) => this.events?.snapshot(camera, id, jpeg))
      .catch((err: Error) => this.log('error', `snapshot ${id} not kept: ${err.message}`));
    return id;
  }

  /**
   * A match's face joins the person's photos when it is live, well under the threshold and ahead
   * of the runner-up, judged on the face itself (a fused decision's evidence is the mean's), and
   * near the person's enrolled photos (gallery/door-captures.ts). Refusals are the rule and are
   * not logged; an addition is logged and, through the store, in the audit log.
   */
  private async captureFromDoor(
    camera: string,
    personId: string,
    ev: Evidence,
    live: boolean | null,
    matchEventId: string,
  ): Promise<void> {
    const store = this.store!;
    const model = this.engine!.encoderId;
    const policy = this.config.enrollment.doorCaptures;
    const { embedding, quality } = ev.face;
    const own = await (await this.currentMatcher()).nearest(embedding);
    if (own?.personId !== personId) return;
    const enrolled = store.enrolledEmbeddings(personId, model);
    const candidate = { embedding, distance: own.distance, margin: own.margin, live, enrolled };
    if (captureRefusal(candidate, policy, this.threshold)) return;
    const bytes = await jpegOf(ev.crop);
    if (store.hasImage(personId, sha256(bytes))) return; // the picture they have (a still camera)
    const source = `${DOOR_CAPTURE_SOURCE}${camera}:${matchEventId}`;
    store.write(() =>
      store.addDoorCapture(personId, { source, bytes, embedding, quality }, model, policy.maxPerPerson),
    );
    this.metrics.doorCaptures.inc({ camera });
    this.log('info', `gallery: a capture from ${camera} added to ${personId}'s photos`, {
      event_id: matchEventId,
      distance: own.distance,
      captures: store.doorCaptures(personId).length,
    });
  }

  /** What a match or spoof event says of liveness at `camera`. */
  private livenessReport(camera: string, verdict: LivenessVerdict | undefined): LivenessReport {
    const policy = this.liveness.get(camera);
    if (!policy || policy.mode === 'off' || !verdict)
      return { mode: 'off', live: null, score: null, threshold: null, reason: 'off', frames: 0, cues: null };
    return {
      mode: policy.mode,
      live: verdict.live,
      score: verdict.score,
      threshold: policy.threshold,
      reason: verdict.reason,
      frames: verdict.cues.frames,
      cues: verdict.cues,
    };
  }

  /**
   * Stops in a defined order: tell systemd, stop the cameras, let frames in analysis finish
   * (bounded), stop gallery sync, give queued events a bounded moment to go out, publish
   * offline and disconnect, close the stores.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.options.notifier?.stopping();
    for (const t of this.timers) clearInterval(t);
    await this.http?.stop();
    await Promise.all(this.cameras.map((c) => c.stop()));
    const drained = await Promise.race([
      Promise.all(this.loops).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), this.options.drainMs ?? 5000).unref()),
    ]);
    if (!drained) this.log('warn', 'frames still in analysis at stop: left unfinished');
    await this.syncer?.stop();
    if (this.publisher) {
      const t0 = Date.now();
      while (this.publisher.stats.connected && this.publisher.stats.queued > 0 && Date.now() - t0 < 3000)
        await new Promise((r) => setTimeout(r, 50));
      if (this.publisher.stats.queued > 0)
        this.log(
          'warn',
          `${this.publisher.stats.queued} events left in the outbox: sent after the next start`,
        );
      await this.publisher.stop();
    }
    await this.broker?.stop();
    this.outbox?.close();
    if (drained) {
      // With a frame still in analysis the sessions stay open: the process is about to exit.
      await this.matcher?.matcher.release();
      await this.engine?.release();
      await this.pairHead?.release();
    }
    this.live.close();
    this.store?.close();
    this.attempts?.close();
    this.state?.close();
    this.options.notifier?.close();
    this.log('info', 'facegate stopped');
  }
}
