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
import { sha256, type GalleryStore, type NewImage } from './store.js';
import { canonicalJson } from '../events/signing.js';

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
  /** In the manifest, but past their retainUntil: wiped, not enrolled. */
  expired: string[];
  refused: { id: string; reason: string }[];
  error?: string;
};

// One version floor per gallery, whatever the URL: an older signed manifest replayed from a
// mirror or an old URL must not roll the gallery back. The digest of the manifest applied at the
// floor tells a re-serve of the same content from a same-numbered manifest with other content.
const FLOOR_KEY = 'sync:version';
const DIGEST_KEY = 'sync:digest';

/** What a manifest says, independent of key order and whitespace. */
const manifestDigest = (m: GalleryManifest): string => sha256(Buffer.from(canonicalJson(m)));

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
    const report = await syncStaged(engine, store, source, opts);
    // Applied syncs are recorded person by person by the write; a refused one (a rollback, a
    // changed manifest under the same version, refused photos) is worth a line of its own.
    if (report.status === 'rejected')
      store.record('gallery.sync', `sync:${source.description}`, {
        status: report.status,
        error: report.error,
        refused: report.refused,
      });
    return report;
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
    expired: [],
    refused: [],
  };
  const etagKey = `sync:${source.description}:etag`;
  // Before the floor was one per gallery it was kept per source: still honoured.
  const legacyVersionKey = `sync:${source.description}:version`;
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
  const digest = manifestDigest(manifest);
  if (fetched.versioned) {
    const floor = Math.max(
      Number(store.getState(FLOOR_KEY) ?? -1),
      Number(store.getState(legacyVersionKey) ?? -1),
    );
    const applied = store.getState(DIGEST_KEY);
    const problem =
      manifest.version < floor
        ? `manifest version ${manifest.version} is older than the gallery's ${floor}`
        : manifest.version === floor && applied !== undefined && applied !== digest
          ? `manifest version ${manifest.version} is the gallery's, but its content differs from what was applied at that version (a new content needs a new version)`
          : undefined;
    if (problem) return { ...report, status: 'rejected', error: `${source.description}: ${problem}` };
  }

  const now = Date.now();
  const expired = (p: { retainUntil?: string }) =>
    p.retainUntil !== undefined && Date.parse(p.retainUntil) <= now;
  report.expired = manifest.people.filter(expired).map((p) => p.id);
  const wanted = new Map(manifest.people.filter((p) => !expired(p)).map((p) => [p.id, p]));
  const existing = new Map(store.listPeople().map((p) => [p.id, p]));
  const updates: { person: GalleryManifest['people'][number]; images?: NewImage[] }[] = [];
  for (const [index, person] of [...wanted.values()].entries()) {
    if (index) opts.onProgress?.(index, wanted.size);
    const have = existing.get(person.id);
    const hashes = [...new Set(person.images.map((i) => i.sha256))].sort();
    const sameImages =
      have !== undefined && JSON.stringify(store.imageHashes(person.id)) === JSON.stringify(hashes);
    const sameDetails =
      have !== undefined &&
      have.name === person.name &&
      canonicalJson(have.metadata) === canonicalJson(person.metadata ?? {}) &&
      canonicalJson(have.consent ?? null) === canonicalJson(person.consent ?? null) &&
      have.retainUntil === person.retainUntil;
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
  if (wanted.size) opts.onProgress?.(wanted.size, wanted.size);
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
    if (fetched.versioned) {
      store.setState(FLOOR_KEY, String(manifest.version));
      store.setState(DIGEST_KEY, digest);
      store.setState(legacyVersionKey, undefined);
    }
  }, `sync:${source.description}`);
  return { ...report, status: 'applied', version: manifest.version, galleryVersion: store.version };
}
