// The composition root: builds every stage from the validated config, starts them in dependency
// order (models, gallery, MQTT, gallery sync, cameras) and stops them in reverse. Per camera,
// one loop takes the newest frame, finds and encodes every face, gates and matches them, and
// feeds the tracker, whose decisions become events. Constructing does no I/O; start() does.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CameraSource, type CameraState } from './camera/camera-source.js';
import type { Frame } from './camera/frame-parser.js';
import type { Config } from './config/schema.js';
import { prepareDemo } from './demo.js';
import { FacegateEvents } from './events/events.js';
import { mqttOptions, signingKey } from './events/from-config.js';
import { startDiscovery } from './events/home-assistant.js';
import { eventId } from './events/ids.js';
import { Outbox } from './events/outbox.js';
import { MqttPublisher } from './events/publisher.js';
import { topicSegment } from './events/topics.js';
import { reembedGallery } from './gallery/enroll.js';
import { Matcher } from './gallery/matcher.js';
import { connectGalleryToMqtt } from './gallery/mqtt.js';
import { GalleryStore } from './gallery/store.js';
import { gallerySource, GallerySyncer } from './gallery/syncer.js';
import { FaceEngine, type Face } from './inference/faces.js';
import { HealthServer, Metrics, type HealthProbe } from './http/server.js';
import { FaceTracker, type Observation, type TrackDecision } from './recognition/tracker.js';
import { checkGates } from './vision/quality.js';

export type Log = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** One JSON line per message on stderr: journald keeps it, tools can parse it. */
export const jsonLog: Log = (level, message, fields = {}) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
};

type Evidence = {
  face: Face;
  frame: Frame;
  distance: number;
  margin: number | null;
  nearest?: { id: string; name: string; distance: number };
};

export type DaemonStats = {
  frames: number;
  faces: number;
  unusable: number;
  matches: number;
  unknowns: number;
  /** Milliseconds from a frame's arrival to the event it produced, last 100. */
  latencies: number[];
};

export class Daemon {
  private engine: FaceEngine | undefined;
  private store: GalleryStore | undefined;
  private matcher: { version: number; matcher: Matcher } | undefined;
  private outbox: Outbox | undefined;
  private publisher: MqttPublisher | undefined;
  private events: FacegateEvents | undefined;
  private syncer: GallerySyncer | undefined;
  private readonly cameras: CameraSource[] = [];
  private readonly loops: Promise<void>[] = [];
  private running = false;
  readonly metrics = new Metrics();
  private http: HealthServer | undefined;
  /** The port /metrics and the health checks listen on, once started. */
  httpPort: number | undefined;
  private lastFrameAt: number | undefined;
  private stopResolve: ((v: undefined) => void) | undefined;
  /** Resolves on stop(), so camera loops waiting for a frame end. */
  private readonly stopped = new Promise<undefined>((resolve) => (this.stopResolve = resolve));
  readonly stats: DaemonStats = { frames: 0, faces: 0, unusable: 0, matches: 0, unknowns: 0, latencies: [] };

  constructor(
    private readonly config: Config,
    private readonly log: Log = jsonLog,
  ) {}

  /** This device in events and topics; set from the MQTT options at start. */
  private deviceId = hostname();

  async start(): Promise<void> {
    const c = this.config;
    this.running = true;
    this.engine = await FaceEngine.open({
      ...(c.models.dir ? { modelsDir: c.models.dir } : {}),
      providers: c.models.providers,
    });
    this.log('info', 'models loaded', {
      providers: this.engine.providers,
      encoder: this.engine.encoderId.slice(0, 12),
    });
    for (const [model, provider] of Object.entries(this.engine.providers))
      this.metrics.provider.set({ model, provider }, 1);

    // Nothing configured: the demo camera, so a fresh `make run` shows facegate at work. The
    // config itself stays as given.
    const cameras = c.cameras.length ? c.cameras : [await prepareDemo(c, this.engine)];
    if (!c.cameras.length) {
      this.log('info', 'no camera configured: playing the demo clip (docs/cameras.md)', {
        url: cameras[0]!.url,
      });
    }
    this.store = new GalleryStore(join(c.stateDir, 'gallery.sqlite'));
    const re = await reembedGallery(this.engine, this.store);
    if (re.embedded || re.failed.length) this.log('warn', 'gallery re-embedded for this encoder', re);

    if (c.mqtt.url) {
      const options = mqttOptions(c);
      this.deviceId = options.deviceId;
      this.outbox = new Outbox(join(c.stateDir, 'outbox.sqlite'), {
        maxEvents: c.mqtt.outboxMaxEvents,
        fsync: c.mqtt.outboxFsync,
      });
      this.publisher = new MqttPublisher(mqttOptions(c), this.outbox, (level, message) =>
        this.log(level, message),
      );
      this.events = new FacegateEvents(this.publisher, signingKey(c));
      this.publisher.start();
      if (c.mqtt.homeAssistant.enabled) {
        startDiscovery(
          this.publisher,
          {
            discoveryPrefix: c.mqtt.homeAssistant.discoveryPrefix,
            deviceId: this.deviceId,
            deviceName: `facegate ${this.deviceId}`,
            version: '0.1.0',
          },
          cameras.map((x) => x.name),
        );
      }
    }

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

    for (const cam of cameras) {
      const source = new CameraSource(cam);
      source.on('state', (s) => this.cameraState(s));
      this.cameras.push(source);
      source.start();
      this.loops.push(this.cameraLoop(source));
    }
    if (c.http.enabled) {
      this.http = new HealthServer(this.metrics, this.healthProbe(), c.http.stallSeconds * 1000);
      this.httpPort = await this.http.start(c.http.host, c.http.port);
      this.log('info', `health and metrics on http://${c.http.host}:${this.httpPort}/metrics`);
    }
    this.log('info', 'facegate running', {
      cameras: cameras.map((x) => x.name),
      gallery: this.store.peopleCount,
      mqtt: this.publisher?.redactedUrl,
    });
  }

  private healthProbe(): HealthProbe {
    return {
      sinceLastFrameMs: () => (this.lastFrameAt === undefined ? undefined : Date.now() - this.lastFrameAt),
      ready: () => {
        const reasons: string[] = [];
        if (!this.engine) reasons.push('models not loaded');
        if (!this.store) reasons.push('gallery not loaded');
        if (this.publisher && !this.publisher.stats.connected) reasons.push('broker not connected');
        return { ok: reasons.length === 0, reasons };
      },
      refresh: () => {
        if (this.publisher) {
          const s = this.publisher.stats;
          this.metrics.outboxDepth.set(s.queued);
          for (const [kind, n] of Object.entries(s.dropped)) this.metrics.outboxDropped.set({ kind }, n);
        }
        if (this.store) {
          this.metrics.galleryPeople.set(this.store.peopleCount);
          this.metrics.galleryVersion.set(this.store.version);
        }
        for (const cam of this.cameras)
          this.metrics.framesDropped.set({ camera: cam.config.name }, cam.stats.framesDropped);
      },
    };
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

  /** The matcher for the gallery as it is now; rebuilt when the gallery version changes. */
  private async currentMatcher(): Promise<Matcher> {
    const version = this.store!.version;
    if (this.matcher?.version !== version) {
      const old = this.matcher?.matcher;
      this.matcher = {
        version,
        matcher: await Matcher.create(
          this.store!.entries(this.engine!.encoderId),
          this.config.match.aggregation as 'mean' | 'best',
        ),
      };
      await old?.release();
    }
    return this.matcher.matcher;
  }

  private async cameraLoop(camera: CameraSource): Promise<void> {
    const c = this.config;
    const tracker = new FaceTracker<Evidence>({
      iou: 0.3,
      maxMissed: 5,
      window: c.recognition.window,
      minVotes: c.recognition.minVotes,
      unknownAfter: c.recognition.unknownAfter,
      unusableAfter: c.recognition.unusableAfter,
      cooldownMs: c.recognition.cooldownSeconds * 1000,
    });
    while (this.running) {
      const frame = await Promise.race([camera.nextFrame(), this.stopped]);
      if (!frame || !this.running) return;
      try {
        this.stats.frames++;
        const started = performance.now();
        const faces = await this.engine!.analyze(frame, {
          select: 'all',
          detector: c.detector,
          mirror: c.recognition.mirror,
        });
        const matcher = await this.currentMatcher();
        const observations: Observation<Evidence>[] = [];
        for (const face of faces) {
          this.stats.faces++;
          const failed = checkGates(face.quality, c.quality);
          this.metrics.faces.inc({ camera: camera.config.name, usable: failed.length ? 'no' : 'yes' });
          if (failed[0]) {
            this.stats.unusable++;
            observations.push({
              box: face.box,
              unusable: { gate: failed[0].gate, reason: failed[0].reason },
            });
            continue;
          }
          const decision = await matcher.decide(face.embedding, c.match.threshold, c.match.minMargin);
          const nearest = decision.known ? decision.match : decision.nearest;
          observations.push({
            box: face.box,
            vote: decision.known ? decision.match.personId : null,
            distance: nearest?.distance ?? Infinity,
            evidence: {
              face,
              frame,
              distance: nearest?.distance ?? Infinity,
              margin: nearest && Number.isFinite(nearest.margin) ? nearest.margin : null,
              ...(nearest
                ? { nearest: { id: nearest.personId, name: nearest.name, distance: nearest.distance } }
                : {}),
            },
          });
        }
        for (const d of tracker.update(observations, frame.capturedAt))
          this.decide(camera.config.name, d, frame.capturedAt);
        this.metrics.frames.inc({ camera: camera.config.name });
        this.metrics.frameSeconds.observe((performance.now() - started) / 1000);
        this.lastFrameAt = Date.now();
      } catch (err) {
        this.log('error', `camera ${camera.config.name}: frame failed`, { error: (err as Error).message });
      }
    }
  }

  /** `capturedAt`: when the frame that completed the decision arrived, for the latency. */
  private decide(camera: string, d: TrackDecision<Evidence>, capturedAt: number): void {
    const c = this.config;
    if (d.kind === 'unusable') {
      this.log('info', `camera ${camera}: face seen but not usable`, { reason: d.reason, frames: d.frames });
      return;
    }
    const ev = d.evidence;
    if (!ev) return;
    const q = ev.face.quality;
    const base = {
      event_id: eventId(),
      time: new Date().toISOString(),
      device: this.deviceId,
      camera: topicSegment(camera),
      box: [ev.face.box.x, ev.face.box.y, ev.face.box.width, ev.face.box.height].map((v) =>
        Math.round(v),
      ) as [number, number, number, number],
      quality: {
        score: q.score,
        eye_distance: q.eyeDistance,
        sharpness: q.sharpness,
        yaw: q.yaw,
        roll: q.roll,
      },
      frames: d.frames,
      gallery_version: this.store!.version,
      model: this.engine!.encoderId,
    };
    const latency = Date.now() - capturedAt;
    this.stats.latencies = [...this.stats.latencies.slice(-99), latency];
    this.metrics.decisions.inc({ camera, kind: d.kind });
    this.metrics.eventLatency.observe(latency / 1000);
    if (d.kind === 'match') {
      this.stats.matches++;
      const person = this.store!.getPerson(d.personId);
      const event = {
        ...base,
        person: { id: d.personId, name: person?.name ?? d.personId },
        distance: ev.distance,
        similarity: Math.max(0, Math.min(1, 1 - ev.distance / c.match.threshold)),
        threshold: c.match.threshold,
        margin: ev.margin,
      };
      this.log('info', `match ${d.personId} at ${camera}`, {
        event_id: event.event_id,
        distance: ev.distance,
        votes: d.votes,
        latency_ms: latency,
      });
      this.events?.match(event);
    } else {
      this.stats.unknowns++;
      const event = { ...base, nearest: ev.nearest ?? null, threshold: c.match.threshold };
      this.log('info', `unknown face at ${camera}`, {
        event_id: event.event_id,
        nearest: ev.nearest,
        latency_ms: latency,
      });
      this.events?.unknown(event);
    }
  }

  /** Stops in reverse order: cameras, the loops, gallery sync, MQTT (offline published), stores. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopResolve?.(undefined);
    await this.http?.stop();
    await Promise.all(this.cameras.map((c) => c.stop()));
    await Promise.all(this.loops);
    await this.syncer?.stop();
    if (this.publisher) {
      // Give queued events a moment to go out before saying offline.
      const t0 = Date.now();
      while (this.publisher.stats.connected && this.publisher.stats.queued > 0 && Date.now() - t0 < 3000)
        await new Promise((r) => setTimeout(r, 50));
      await this.publisher.stop();
    }
    this.outbox?.close();
    await this.matcher?.matcher.release();
    this.store?.close();
    await this.engine?.release();
    this.log('info', 'facegate stopped');
  }
}
