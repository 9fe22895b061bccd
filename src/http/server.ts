// Health and metrics over HTTP, on 127.0.0.1 by default: /healthz (the pipeline is making
// progress, by the same rule as the systemd watchdog), /readyz (models loaded, broker connected when one is configured, gallery loaded;
// warnings for what runs other than configured),
// /metrics (Prometheus text, prom-client). The daemon supplies the state through `probe`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CameraState } from '../camera/camera-source.js';
import type { EncoderSelfCheck } from '../inference/self-check.js';
import { VERSION } from '../project.js';

export type Progress = {
  ok: boolean;
  /** Cameras that deliver frames none of which was analysed within the stall time. */
  stalled: string[];
  /** Milliseconds since any camera's last analysed frame (null: none yet). */
  since_last_frame_ms: number | null;
  /**
   * Each camera's state, with the reason when offline (a frozen picture, no frame, refused...):
   * a camera that is down does not fail /healthz, which is about facegate itself.
   */
  cameras: Record<string, Pick<CameraState, 'state' | 'reason'> & { since: string }>;
};

export type Readiness = {
  ok: boolean;
  /** Why it is not ready. */
  reasons: string[];
  /** What runs other than configured, while ready (an encoder that failed its self-check). */
  warnings: string[];
  /** The encoder's self-check, when the configured encoder needed one. */
  encoder?: EncoderSelfCheck;
};

export type HealthProbe = {
  progress: () => Progress;
  ready: () => Readiness;
  /** Brings gauges up to date before /metrics renders them. */
  refresh: () => void;
};

export class Metrics {
  readonly registry = new Registry();
  /** Always 1: its label says which facegate this is. */
  readonly buildInfo = new Gauge({
    name: 'facegate_build_info',
    help: 'facegate version (always 1)',
    labelNames: ['version'],
    registers: [this.registry],
  });
  readonly frames = new Counter({
    name: 'facegate_frames_total',
    help: 'Frames analysed',
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly framesStale = new Counter({
    name: 'facegate_frames_stale_total',
    help: 'Frames dropped because they were older than pipeline.maxFrameAgeMs when their analysis would start',
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly framesUnchanged = new Counter({
    name: 'facegate_frames_unchanged_total',
    help: 'Frames not analysed by motion gating: nothing changed since the last analysed frame (pipeline.motion)',
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly framesDropped = new Gauge({
    name: 'facegate_frames_dropped',
    help: 'Frames dropped because analysis was busy (replaced by a newer frame)',
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly faces = new Counter({
    name: 'facegate_faces_total',
    help: 'Faces found, by whether they passed the quality gates',
    labelNames: ['camera', 'usable'],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'facegate_events_total',
    help: 'Decisions published',
    labelNames: ['camera', 'kind'],
    registers: [this.registry],
  });
  readonly doorCaptures = new Counter({
    name: 'facegate_door_captures_total',
    help: "Faces of matches added to the person's photos (enrollment.doorCaptures)",
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly stageSeconds = new Histogram({
    name: 'facegate_stage_seconds',
    help: 'Time of one pipeline stage for one frame (all its faces)',
    labelNames: ['stage'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'facegate_inference_queue_frames',
    help: 'Frames waiting for inference (at most one per camera)',
    registers: [this.registry],
  });
  readonly frameSeconds = new Histogram({
    name: 'facegate_frame_seconds',
    help: 'Analysis time of one frame (detection to matching)',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6],
    registers: [this.registry],
  });
  readonly eventLatency = new Histogram({
    name: 'facegate_frame_to_event_seconds',
    help: 'From the arrival of the deciding frame to the event',
    buckets: [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2],
    registers: [this.registry],
  });
  readonly outboxDepth = new Gauge({
    name: 'facegate_outbox_events',
    help: 'Events waiting in the MQTT outbox',
    registers: [this.registry],
  });
  readonly outboxDropped = new Gauge({
    name: 'facegate_outbox_dropped',
    help: 'Events dropped at the outbox bound',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly access = new Counter({
    name: 'facegate_access_total',
    help: 'Access decisions per door: granted, or denied with the reason',
    labelNames: ['door', 'result', 'reason'],
    registers: [this.registry],
  });
  readonly outboxExpired = new Gauge({
    name: 'facegate_outbox_expired',
    help: 'Events not sent because they were older than mqtt.maxEventAgeSeconds when their turn came',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly retentionDeleted = new Counter({
    name: 'facegate_retention_deleted_total',
    help: 'What the retention sweep deleted, by kind: snapshots per decision kind, people past retainUntil, events waiting too long, audit entries',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly retentionSweep = new Gauge({
    name: 'facegate_retention_last_sweep_seconds',
    help: 'When the retention sweep last ran (Unix time)',
    registers: [this.registry],
  });
  readonly memory = new Gauge({
    name: 'facegate_memory_bytes',
    help: "The daemon's memory by kind: rss (resident, all of it), heap_used and heap_total (JavaScript), external and array_buffers (Buffers, frames, ONNX Runtime's tensors handed to JavaScript), sharp_cache (libvips' operation cache)",
    labelNames: ['kind'],
    registers: [this.registry],
  });
  /** Brings the memory gauges up to date (refresh() calls it before /metrics renders). */
  refreshMemory(sharpCacheBytes: number): void {
    const m = process.memoryUsage();
    this.memory.set({ kind: 'rss' }, m.rss);
    this.memory.set({ kind: 'heap_used' }, m.heapUsed);
    this.memory.set({ kind: 'heap_total' }, m.heapTotal);
    this.memory.set({ kind: 'external' }, m.external);
    this.memory.set({ kind: 'array_buffers' }, m.arrayBuffers);
    this.memory.set({ kind: 'sharp_cache' }, sharpCacheBytes);
  }
  readonly galleryPeople = new Gauge({
    name: 'facegate_gallery_people',
    help: 'People in the gallery',
    registers: [this.registry],
  });
  readonly galleryVersion = new Gauge({
    name: 'facegate_gallery_version',
    help: 'Gallery version',
    registers: [this.registry],
  });
  readonly cameraUp = new Gauge({
    name: 'facegate_camera_online',
    help: '1 while the camera delivers frames',
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly provider = new Gauge({
    name: 'facegate_execution_provider',
    help: 'ONNX Runtime provider each model runs on (1)',
    labelNames: ['model', 'provider'],
    registers: [this.registry],
  });
  readonly encoderSelfCheck = new Gauge({
    name: 'facegate_encoder_self_check',
    help: 'The encoder asked for and the one that runs (1; self_check passed or failed: then the float encoder on the CPU runs)',
    labelNames: ['requested', 'running', 'self_check'],
    registers: [this.registry],
  });
  readonly encoderSelfCheckDistance = new Gauge({
    name: 'facegate_encoder_self_check_distance',
    help: "Largest distance of a self-check face's embedding from the float encoder's when the encoder loaded",
    registers: [this.registry],
  });

  constructor() {
    this.buildInfo.set({ version: VERSION }, 1);
  }
}

export type HttpExtras = {
  /** HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer; key: Buffer };
  /** Other routes (the console and its API): true when it handled the request. */
  handle?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /**
   * Whether a request from another machine may read health and metrics (an API token or a
   * session): they stay open to 127.0.0.1 only.
   */
  authorised?: (req: IncomingMessage) => boolean;
};

const LOOPBACK_PEER = /^(127\.|::1$|::ffff:127\.)/;

export class HealthServer {
  private server: Server | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly probe: HealthProbe,
    private readonly extras: HttpExtras = {},
  ) {}

  /** Listens on host:port (port 0: any free port); resolves with the port. */
  async start(host: string, port: number): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void (async () => {
        const open = ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '');
        if (open && !LOOPBACK_PEER.test(req.socket.remoteAddress ?? '') && !this.extras.authorised?.(req)) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: 'health and metrics are open on 127.0.0.1; from elsewhere send an API token',
            }),
          );
        } else if (req.url === '/healthz') {
          const p = this.probe.progress();
          res.writeHead(p.ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(p));
        } else if (req.url === '/readyz') {
          const r = this.probe.ready();
          res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(r));
        } else if (req.url === '/metrics') {
          this.probe.refresh();
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(await this.metrics.registry.metrics());
        } else if (!(await this.extras.handle?.(req, res))) {
          res.writeHead(404).end();
        }
      })().catch((err: Error) => {
        // A failing request must not take the daemon down: answered 500, and said on stderr.
        process.stderr.write(
          `${JSON.stringify({ time: new Date().toISOString(), level: 'error', message: `http ${req.method} ${req.url}: ${err.message}` })}\n`,
        );
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'internal error (logged)' }));
      });
    };
    const tls = this.extras.tls;
    const server: Server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key }, handler)
      : createServer(handler);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
