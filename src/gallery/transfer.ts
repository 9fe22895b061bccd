// Gallery export and import: a JSON document with every person and their enrollment photos
// (base64, with sha256), so a gallery moves between devices or survives a reinstall. Import
// re-encodes the photos with this device's encoder and applies all people in one transaction.
import { FacegateError } from '../errors.js';
import type { FaceEngine } from '../inference/faces.js';
import type { Consent } from './manifest.js';
import { enrollmentFace, EnrollmentRejected, type EnrollmentPolicy } from './enroll.js';
import { sha256, validatePersonId, validatePersonText, type GalleryStore, type NewImage } from './store.js';

export const EXPORT_FORMAT = 'facegate-gallery';

export type GalleryExport = {
  format: typeof EXPORT_FORMAT;
  version: 1;
  galleryVersion: number;
  exportedAt: string;
  people: {
    id: string;
    name: string;
    metadata: Record<string, unknown>;
    consent?: Consent;
    retainUntil?: string;
    images: { sha256: string; source: string; data: string }[];
  }[];
};

export function exportGallery(store: GalleryStore): GalleryExport {
  return {
    format: EXPORT_FORMAT,
    version: 1,
    galleryVersion: store.version,
    exportedAt: new Date().toISOString(),
    people: store.listPeople().map((p) => ({
      id: p.id,
      name: p.name,
      metadata: p.metadata,
      ...(p.consent ? { consent: p.consent } : {}),
      ...(p.retainUntil ? { retainUntil: p.retainUntil } : {}),
      images: store
        .images(p.id)
        .map((i) => ({ sha256: i.sha256, source: i.source, data: i.bytes.toString('base64') })),
    })),
  };
}

/** Validates the document's shape; every problem names where it is. */
export function parseExport(text: string, file: string): GalleryExport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new FacegateError('USAGE', `${file}: not valid JSON (${(err as Error).message})`);
  }
  const d = doc as Partial<GalleryExport>;
  if (d?.format !== EXPORT_FORMAT || d.version !== 1 || !Array.isArray(d.people)) {
    throw new FacegateError(
      'USAGE',
      `${file}: not a facegate gallery export (format "${EXPORT_FORMAT}", version 1)`,
    );
  }
  d.people.forEach((p, i) => {
    const where = `${file}: people[${i}]`;
    if (typeof p?.id !== 'string' || typeof p.name !== 'string' || !Array.isArray(p.images)) {
      throw new FacegateError('USAGE', `${where}: needs id, name and images`);
    }
    validatePersonId(p.id);
    validatePersonText(p);
    if (!p.images.length)
      throw new FacegateError(
        'USAGE',
        `${where} (${p.id}): no photo; a person needs at least one enrollment photo`,
      );
    p.images.forEach((img, k) => {
      if (typeof img?.data !== 'string' || typeof img.sha256 !== 'string')
        throw new FacegateError('USAGE', `${where}.images[${k}]: needs data and sha256`);
      const actual = sha256(Buffer.from(img.data, 'base64'));
      if (actual !== img.sha256)
        throw new FacegateError(
          'USAGE',
          `${where}.images[${k}] (${p.id}): sha256 ${actual} does not match ${img.sha256}`,
        );
    });
  });
  return d as GalleryExport;
}

/**
 * Re-encodes every photo (checking faces and quality, not duplicates: the source gallery
 * already accepted these people), then replaces each imported person in one transaction.
 * Any refused photo aborts the whole import, and the gallery stays as it was.
 */
export async function importGallery(
  engine: FaceEngine,
  store: GalleryStore,
  doc: GalleryExport,
  policy: EnrollmentPolicy,
) {
  const prepared: { person: GalleryExport['people'][number]; images: NewImage[] }[] = [];
  const refused: string[] = [];
  for (const person of doc.people) {
    const images: NewImage[] = [];
    for (const img of person.images) {
      const bytes = Buffer.from(img.data, 'base64');
      try {
        const face = await enrollmentFace(engine, { bytes, source: img.source }, policy);
        images.push({ bytes, source: img.source, embedding: face.embedding, quality: face.quality });
      } catch (err) {
        if (!(err instanceof EnrollmentRejected)) throw err;
        refused.push(`${person.id}: ${err.message}`);
      }
    }
    prepared.push({ person, images });
  }
  if (refused.length)
    throw new FacegateError(
      'ENROLL_REJECTED',
      `import refused, gallery unchanged:\n  ${refused.join('\n  ')}`,
    );
  store.write(() => {
    for (const { person, images } of prepared) store.replacePerson(person, images, engine.encoderId);
  });
  return { people: prepared.length, galleryVersion: store.version };
}
