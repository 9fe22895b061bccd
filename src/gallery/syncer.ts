// Runs gallery syncs: on start, every interval (with jitter, so a fleet does not hit the
// origin in step), on demand, and when a directory source changes. One sync at a time; a request
// during a sync runs once more after it. Keeps the status that MQTT's gallery/status and the
// metrics publish.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { statSync } from 'node:fs';
import { readConfiguredFile } from '../config/files.js';
import type { Config } from '../config/schema.js';
import { FacegateError } from '../errors.js';
import type { FaceEngine } from '../inference/faces.js';
import { DirectorySource, HttpSource, type GallerySource } from './sources.js';
import type { GalleryStore } from './store.js';
import { syncGallery, type SyncReport } from './sync.js';
import { enrollmentPolicy } from './enroll.js';

export type GalleryStatus = {
  version: number;
  people: number;
  lastSync: string | null;
  lastSuccess: string | null;
  lastError: string | null;
  refused: { id: string; reason: string }[];
};

export function gallerySource(config: Config): GallerySource | undefined {
  const g = config.gallery;
  if (!g.source) return undefined;
  const read = (file: string, key: string) => readConfiguredFile(file, `gallery.${key}`);
  if (/^https?:\/\//.test(g.source)) {
    return new HttpSource({
      manifestUrl: g.source,
      ...(g.publicKeyFile ? { publicKey: read(g.publicKeyFile, 'publicKeyFile').toString('utf8') } : {}),
      allowUnsigned: g.allowUnsigned,
      ...(g.bearerTokenFile
        ? { bearerToken: read(g.bearerTokenFile, 'bearerTokenFile').toString('utf8').trim() }
        : {}),
      ...(g.caFile ? { ca: read(g.caFile, 'caFile') } : {}),
      timeoutMs: g.timeoutSeconds * 1000,
      stallMs: g.stallSeconds * 1000,
      maxManifestBytes: g.maxManifestBytes,
      maxImageBytes: g.maxImageBytes,
    });
  }
  try {
    if (!statSync(g.source).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new FacegateError(
      'CONFIG_INVALID',
      `gallery.source ${g.source}: not a URL and not a directory (${(err as Error).message})`,
    );
  }
  return new DirectorySource(g.source);
}

export class GallerySyncer extends EventEmitter<{ report: [SyncReport, GalleryStatus] }> {
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private running: Promise<SyncReport> | undefined;
  private again = false;
  private stopped = false;
  private status: Omit<GalleryStatus, 'version' | 'people'> = {
    lastSync: null,
    lastSuccess: null,
    lastError: null,
    refused: [],
  };

  constructor(
    private readonly engine: FaceEngine,
    private readonly store: GalleryStore,
    private readonly source: GallerySource,
    private readonly config: Config,
  ) {
    super();
  }

  start(): void {
    void this.syncNow();
    if (this.source instanceof DirectorySource) {
      // Debounced: copying a folder of photos fires many events.
      let debounce: NodeJS.Timeout | undefined;
      this.watcher = watch(this.source.dir, { recursive: false }, () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => void this.syncNow(), 500);
      });
    }
    this.schedule();
  }

  private schedule(): void {
    const seconds = this.config.gallery.intervalSeconds;
    if (!seconds || this.stopped) return;
    this.timer = setTimeout(
      () => {
        void this.syncNow().finally(() => this.schedule());
      },
      seconds * 1000 * (1 + 0.1 * Math.random()),
    );
    this.timer.unref();
  }

  /** Told after each person a sync checks (facegate gallery sync --once shows it). */
  onProgress: ((done: number, total: number) => void) | undefined;

  /** Syncs now (or right after the sync in progress) and resolves with its report. */
  async syncNow(): Promise<SyncReport> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let report: SyncReport;
      do {
        this.again = false;
        report = await syncGallery(this.engine, this.store, this.source, {
          partial: this.config.gallery.partial as 'keep-last-good' | 'apply-valid',
          enrollment: enrollmentPolicy(this.config, { maxPixels: this.config.gallery.maxImagePixels }),
          ...(this.onProgress ? { onProgress: this.onProgress } : {}),
        });
        const now = new Date().toISOString();
        this.status = {
          lastSync: now,
          lastSuccess:
            report.status === 'applied' || report.status === 'unchanged' ? now : this.status.lastSuccess,
          lastError:
            report.error ??
            (report.status === 'applied' || report.status === 'unchanged' ? null : this.status.lastError),
          refused: report.refused,
        };
        this.emit('report', report, this.galleryStatus);
      } while (this.again && !this.stopped);
      return report;
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  get galleryStatus(): GalleryStatus {
    return { version: this.store.version, people: this.store.peopleCount, ...this.status };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    await this.running;
  }
}
