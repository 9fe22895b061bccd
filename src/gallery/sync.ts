// Gallery sync: fetch the source's manifest (one request when unchanged), verify it, enroll
// each new or changed person with the recognition core's checks, drop removed people, and
// switch the gallery in one transaction. The manifest failing in any way (network, signature,
// schema, version going backwards) keeps the last good gallery. A person whose photo is refused
// is reported by id and reason; by default (`keep-last-good`, the safe choice for a door) one
// refused person keeps the whole previous gallery, `apply-valid` applies everyone else.
import { FacegateError } from '../errors.js';
import type { FaceEngine } from '../inference/faces.js';
import { enrollmentFace, EnrollmentRejected, type EnrollmentPolicy } from './enroll.js';
import type { GalleryManifest } from './manifest.js';
import type { GallerySource } from './sources.js';
import type { GalleryStore, NewImage } from './store.js';

export type PartialPolicy = 'keep-last-good' | 'apply-valid';

export type SyncReport = {
  source: string;
  status: 'unchanged' | 'applied' | 'rejected' | 'failed';
  /** The manifest version now in use (after an applied sync). */
  version?: number;
  galleryVersion: number;
  added: string[];
  changed: string[];
  removed: string[];
  refused: { id: string; reason: string }[];
  error?: string;
};

type SyncOptions = {
  partial: PartialPolicy;
  enrollment: EnrollmentPolicy;
  /** Called after each person of the manifest is checked (fetched, encoded). */
  onProgress?: (done: number, total: number) => void;
};

export async function syncGallery(
  engine: FaceEngine,
  store: GalleryStore,
  source: GallerySource,
  opts: SyncOptions,
): Promise<SyncReport> {
  try {
    return await syncStaged(engine, store, source, opts);
  } finally {
    // Fetched photos wait in the store's staging area until the switch; applied or not, drop them.
    store.clearStaged();
  }
}

async function syncStaged(
  engine: FaceEngine,
  store: GalleryStore,
  source: GallerySource,
  opts: SyncOptions,
): Promise<SyncReport> {
  const report: SyncReport = {
    source: source.description,
    status: 'unchanged',
    galleryVersion: store.version,
    added: [],
    changed: [],
    removed: [],
    refused: [],
  };
  const etagKey = `sync:${source.description}:etag`;
  const versionKey = `sync:${source.description}:version`;
  let fetched;
  try {
    fetched = await source.fetchManifest(store.getState(etagKey));
  } catch (err) {
    return {
      ...report,
      status: err instanceof FacegateError && err.code === 'SYNC_REJECTED' ? 'rejected' : 'failed',
      error: (err as Error).message,
    };
  }
  if (!fetched) return report;
  const { manifest } = fetched;
  const current = Number(store.getState(versionKey) ?? -1);
  if (fetched.versioned && manifest.version < current) {
    return {
      ...report,
      status: 'rejected',
      error: `${source.description}: manifest version ${manifest.version} is older than the gallery's ${current}`,
    };
  }

  const wanted = new Map(manifest.people.map((p) => [p.id, p]));
  const existing = new Map(store.listPeople().map((p) => [p.id, p]));
  const updates: { person: GalleryManifest['people'][number]; images?: NewImage[] }[] = [];
  for (const [index, person] of manifest.people.entries()) {
    if (index) opts.onProgress?.(index, manifest.people.length);
    const have = existing.get(person.id);
    const hashes = [...new Set(person.images.map((i) => i.sha256))].sort();
    const sameImages =
      have !== undefined && JSON.stringify(store.imageHashes(person.id)) === JSON.stringify(hashes);
    const sameDetails =
      have !== undefined &&
      have.name === person.name &&
      JSON.stringify(have.metadata) === JSON.stringify(person.metadata ?? {});
    if (sameImages && sameDetails) continue;
    if (sameImages) {
      updates.push({ person }); // name or metadata only
      report.changed.push(person.id);
      continue;
    }
    try {
      const images: NewImage[] = [];
      for (const img of person.images) {
        const bytes = await source.loadImage(img.url, img.sha256);
        // The source is the authority on who is who: look-alikes are allowed (force).
        const face = await enrollmentFace(
          engine,
          { bytes, source: `${person.id}: ${img.url}` },
          { ...opts.enrollment, force: true },
        );
        images.push({
          staged: store.stage(bytes, img.sha256), // loadImage checked the bytes against it
          source: img.url,
          embedding: face.embedding,
          quality: face.quality,
        });
      }
      updates.push({ person, images });
      (have ? report.changed : report.added).push(person.id);
    } catch (err) {
      if (
        !(err instanceof FacegateError) ||
        (err.code !== 'ENROLL_REJECTED' && err.code !== 'SYNC_REJECTED' && err.code !== 'SYNC_FAILED')
      )
        throw err;
      const reason = err instanceof EnrollmentRejected ? `${err.reason}: ${err.message}` : err.message;
      report.refused.push({ id: person.id, reason });
    }
  }
  if (manifest.people.length) opts.onProgress?.(manifest.people.length, manifest.people.length);
  report.removed = [...existing.keys()].filter((id) => !wanted.has(id));

  if (report.refused.length && opts.partial === 'keep-last-good') {
    return {
      ...report,
      status: 'rejected',
      added: [],
      changed: [],
      removed: [],
      error: `${report.refused.length} people refused; the last good gallery is kept (gallery.partial: keep-last-good; 'apply-valid' would apply everyone else)`,
    };
  }
  store.write(() => {
    for (const { person, images } of updates) {
      if (images) store.replacePerson(person, images, engine.encoderId);
      else store.putPerson(person, [], engine.encoderId);
    }
    for (const id of report.removed) store.removePerson(id);
    store.setState(etagKey, fetched.etag);
    store.setState(versionKey, String(manifest.version));
  });
  return { ...report, status: 'applied', version: manifest.version, galleryVersion: store.version };
}
