// Enrollment: one photo (or a few) per person, checked before it can open a door. A photo is
// refused, with the reason, when it has no face, two faces of similar size (whose face is it?),
// a face below the quality gates, or a face that already belongs to someone else.
import type { Config } from '../config/schema.js';
import { FacegateError } from '../errors.js';
import { matchThreshold, type Face, type FaceEngine } from '../inference/faces.js';
import { decodeImage, type RgbImage } from '../vision/image.js';
import { checkGates, type QualityGates } from '../vision/quality.js';
import { Matcher } from './matcher.js';
import type { GalleryStore, NewImage, StoredImage } from './store.js';

/** The smallest face (px) looked for to tell "too small" from "no face" in a refused photo. */
const SMALLEST_FACE = 16;

export type RejectionReason = 'unreadable' | 'no_face' | 'multiple_faces' | 'low_quality' | 'duplicate';

export class EnrollmentRejected extends FacegateError {
  constructor(
    readonly reason: RejectionReason,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super('ENROLL_REJECTED', message);
  }
}

export type EnrollmentPolicy = {
  threshold: number;
  gates: QualityGates;
  /** A second face at least this fraction of the largest face's area makes the photo ambiguous. */
  similarFaceRatio: number;
  /** Enroll even when the face matches someone already enrolled. */
  force?: boolean;
  /** Photos with more pixels are refused before decoding (default: decodeImage's limit). */
  maxPixels?: number;
};

/** The enrollment checks as configured, with `overrides` (a --threshold, --force, a size limit). */
export function enrollmentPolicy(
  config: Config,
  overrides: Partial<EnrollmentPolicy> = {},
): EnrollmentPolicy {
  return {
    threshold: matchThreshold(config),
    gates: config.quality,
    similarFaceRatio: config.enrollment.similarFaceRatio,
    ...overrides,
  };
}

export type EnrollmentPhoto = { bytes: Buffer; source: string };

/** The one face an enrollment photo is about, or the reason there is none. */
export async function enrollmentFace(
  engine: FaceEngine,
  photo: EnrollmentPhoto,
  policy: EnrollmentPolicy,
): Promise<Face> {
  let faces: Face[];
  let image: RgbImage;
  try {
    image = await decodeImage(photo.bytes, policy.maxPixels ? { maxPixels: policy.maxPixels } : {});
    faces = await engine.analyze(image, { select: 'all', secondLook: true, photo: true });
  } catch (err) {
    throw new EnrollmentRejected(
      'unreadable',
      `${photo.source}: ${(err as Error).message.replace(/^image buffer: /, '')}`,
    );
  }
  const [face, second] = faces;
  if (!face) {
    // Smaller than the detector looks for? Then the photo has a face, just too small to use:
    // say so, with its size, rather than "no face".
    const [small] = await engine.analyze(image, { detector: { minFaceSize: SMALLEST_FACE }, photo: true });
    if (small)
      throw new EnrollmentRejected(
        'low_quality',
        `${photo.source}: face found, too small (eye distance ${Math.round(small.quality.eyeDistance)} px, minimum ${policy.gates.minEyeDistance})`,
      );
    throw new EnrollmentRejected('no_face', `${photo.source}: no face found`);
  }
  const area = (f: Face) => f.box.width * f.box.height;
  if (second && area(second) >= policy.similarFaceRatio * area(face)) {
    throw new EnrollmentRejected(
      'multiple_faces',
      `${photo.source}: ${faces.length} faces of similar size; use a photo of one person`,
      {
        faces: faces.length,
      },
    );
  }
  const failed = checkGates(face.quality, policy.gates);
  if (failed.length) {
    throw new EnrollmentRejected(
      'low_quality',
      `${photo.source}: face below the quality gates: ${failed.map((f) => f.reason).join('; ')}`,
      {
        failed,
      },
    );
  }
  return face;
}

export type EnrollResult = { personId: string; images: number; galleryVersion: number };

/** Checks a person's photos against the policy and the people already enrolled; writes nothing. */
export async function prepareEnrollment(
  engine: FaceEngine,
  store: GalleryStore,
  personId: string,
  photos: readonly EnrollmentPhoto[],
  policy: EnrollmentPolicy,
): Promise<NewImage[]> {
  if (!photos.length) throw new FacegateError('USAGE', `enrolling ${personId}: no photo given`);
  const others = await Matcher.create(store.entries(engine.encoderId).filter((e) => e.personId !== personId));
  try {
    const images: NewImage[] = [];
    for (const photo of photos) {
      const face = await enrollmentFace(engine, photo, policy);
      const nearest = await others.nearest(face.embedding);
      if (nearest && nearest.distance < policy.threshold && !policy.force) {
        throw new EnrollmentRejected(
          'duplicate',
          `${photo.source}: looks like ${nearest.personId} (${nearest.name}), distance ${nearest.distance.toFixed(3)} under the threshold ${policy.threshold}; use --force if they are different people`,
          { personId: nearest.personId, name: nearest.name, distance: nearest.distance },
        );
      }
      images.push({
        bytes: photo.bytes,
        source: photo.source,
        embedding: face.embedding,
        quality: face.quality,
      });
    }
    return images;
  } finally {
    await others.release();
  }
}

/**
 * Checks every photo, then stores the person with all their photos in one transaction: either
 * the whole enrollment lands or nothing changes.
 */
export async function enrollPerson(
  engine: FaceEngine,
  store: GalleryStore,
  person: { id: string; name: string; metadata?: Record<string, unknown> },
  photos: readonly EnrollmentPhoto[],
  policy: EnrollmentPolicy,
  /** An enrolled person's photos are replaced by these (else they are added to). */
  replace = false,
  /** Who enrolls, for the audit log (default: the store's). */
  actor?: string,
): Promise<EnrollResult> {
  const images = await prepareEnrollment(engine, store, person.id, photos, policy);
  store.write(
    () =>
      replace
        ? store.replacePerson(person, images, engine.encoderId)
        : store.putPerson(person, images, engine.encoderId),
    actor,
  );
  return { personId: person.id, images: images.length, galleryVersion: store.version };
}

/**
 * After an encoder change: embeds every stored image that has no embedding from this encoder,
 * in one transaction, then drops the old encoder's embeddings. Images whose face can no longer
 * be found are reported and keep no embedding (that person cannot match until re-enrolled).
 */
export async function reembedGallery(
  engine: FaceEngine,
  store: GalleryStore,
): Promise<{ embedded: number; failed: { personId: string; reason: string }[] }> {
  const pending = store.imagesMissingEmbedding(engine.encoderId);
  const results: { image: StoredImage; face?: Face; personId: string; reason?: string }[] = [];
  for (const image of pending) {
    const { personId } = image;
    try {
      const [face] = await engine.analyze(await decodeImage(image.bytes), { select: 'largest', photo: true });
      results.push(face ? { image, face, personId } : { image, personId, reason: 'no face found' });
    } catch (err) {
      results.push({ image, personId, reason: (err as Error).message });
    }
  }
  if (pending.length) {
    store.write(() => {
      for (const r of results)
        if (r.face) store.putEmbedding(r.image, engine.encoderId, r.face.embedding, r.face.quality);
      store.pruneEmbeddings(engine.encoderId);
    });
  }
  return {
    embedded: results.filter((r) => r.face).length,
    failed: results.filter((r) => r.reason).map((r) => ({ personId: r.personId, reason: r.reason! })),
  };
}

export const DEFAULT_SIMILAR_FACE_RATIO = 0.5;
