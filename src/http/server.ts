// Health and metrics over HTTP, on 127.0.0.1 by default: /healthz (the pipeline is making
// progress), /readyz (models loaded, broker connected when one is configured, gallery loaded),
// /metrics (Prometheus text, prom-client). The daemon supplies the state through `probe`.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type HealthProbe = {
  /** Milliseconds since the last frame was analysed by any camera loop (undefined: none yet). */
  sinceLastFrameMs: () => number | undefined;
  ready: () => { ok: boolean; reasons: string[] };
  /** Brings gauges up to date before /metrics renders them. */
  refresh: () => void;
};

export class Metrics {
  readonly registry = new Registry();
  readonly frames = new Counter({
    name: 'facegate_frames_total',
    help: 'Frames analysed',
    labelNames: ['camera'],
    registers: [this.registry],
  });
  readonly framesDropped = new Gauge({
    name: 'facegate_frames_dropped',
    help: 'Frames dropped because analysis was busy',
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
}

export class HealthServer {
  private server: Server | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly probe: HealthProbe,
    private readonly stallMs: number,
  ) {}

  /** Listens on host:port (port 0: any free port); resolves with the port. */
  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      void (async () => {
        if (req.url === '/healthz') {
          const since = this.probe.sinceLastFrameMs();
          const ok = since === undefined || since < this.stallMs;
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok, since_last_frame_ms: since ?? null }));
        } else if (req.url === '/readyz') {
          const r = this.probe.ready();
          res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(r));
        } else if (req.url === '/metrics') {
          this.probe.refresh();
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(await this.metrics.registry.metrics());
        } else {
          res.writeHead(404).end();
        }
      })();
    });
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
