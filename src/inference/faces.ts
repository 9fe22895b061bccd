// The face pipeline for one image: detect, find 68 landmarks per face, align each face to the
// encoder's chip (dlib's 150-pixel mean face, or ArcFace's 112-pixel five points for
// MobileFaceNet), measure its quality, encode all faces in one batch. Returns faces in
// image coordinates with their embeddings; deciding what to do with them is the caller's business.
import { alignmentTransform, arcfaceTransform, boxCropTransform, type Point } from '../vision/alignment.js';
import type { RgbImage } from '../vision/image.js';
import { measureQuality, type FaceQuality } from '../vision/quality.js';
import { ImagePyramid, type Rect } from '../vision/warp.js';
import { DEFAULT_DETECTOR_OPTIONS, detectFaces, type Detection, type DetectorOptions } from './detector.js';
import type { HeadManifest, HeadModel } from './head.js';
import {
  defaultModelsDir,
  encoderEntry,
  DEFAULT_ENCODER,
  readManifest,
  type EncoderName,
  type ModelManifest,
} from './model-manifest.js';
import { checkEncoder, selfCheckPhotos, type ChipEncoder, type EncoderSelfCheck } from './self-check.js';
import {
  openModel,
  runModel,
  type ExecutionProvider,
  type ModelSession,
  type SessionOptions,
} from './session.js';

export type Face = {
  box: Rect;
  score: number;
  landmarks: Point[];
  quality: FaceQuality;
  embedding: Float32Array;
};

/**
 * Which faces of an image to encode: every face, the largest (an enrollment photo, a door
 * camera), or the one nearest the image centre (how labelled datasets such as LFW are cut).
 */
export type FaceSelection = 'all' | 'largest' | 'central';

export type CropMode = 'aligned' | 'box';

export type AnalyzeOptions = {
  select?: FaceSelection;
  /** 'aligned' (default) warps by landmarks; 'box' crops the detection box, for comparison. */
  crop?: CropMode;
  /**
   * Also encode each face mirrored and average (default true): steadier embeddings for twice
   * the encoder time. A function encodes every face once, then again with its mirror the faces
   * it picks: the mirror pass matters only where it can change a decision, near the threshold.
   */
  mirror?: boolean | ((face: Face) => boolean | Promise<boolean>);
  detector?: Partial<DetectorOptions>;
  /**
   * When no face is found, look again at the scales halfway between the pyramid's octaves (the
   * tiny detector misses some faces that fall between two levels). Default: on for photos
   * (select 'largest' or 'central'), off for 'all', where an empty video frame is the common case
   * and would pay the second look every time. On lfw-dev it finds all 9 of the 9 faces that the
   * first look missed (bench/RESULTS.md, 2026-11-29).
   */
  secondLook?: boolean;
  /** Filled with the milliseconds each stage took, for the daemon's per-stage histograms. */
  timings?: StageTimings;
  /**
   * A still photo (enrollment, sync), not a camera frame: on the CPU its detection runs in a
   * detector session of its own, released after. A session's arena keeps the size of the largest
   * image it ran on: one 12-megapixel photo left the daemon's shared detector 200 MiB larger for
   * good (a 1920-pixel square level needs 550 MiB; a 720p frame 140). About 15-40 ms a photo.
   */
  photo?: boolean;
};

export type StageTimings = {
  detect?: number;
  landmarks?: number;
  align?: number;
  encode?: number;
  match?: number;
};

/** The chip the quality gates were calibrated on: dlib's template at 150 pixels. */
const QUALITY_CHIP = 150;

export class FaceEngine {
  /**
   * How the encoder fared against the float graph on the CPU when it loaded (self-check.ts);
   * undefined when it is that graph.
   */
  selfCheck: EncoderSelfCheck | undefined;
  private qualityScratch: Float32Array | undefined;

  private constructor(
    readonly detector: ModelSession,
    readonly landmarker: ModelSession,
    /** The encoder that runs: after a failed self-check, the float graph on the CPU. */
    private encoderSession: ModelSession,
    readonly modelsDir: string,
    /** A triplet head (facegate train): every embedding is its projection. */
    private readonly projection: HeadModel | undefined,
    /** Threads per run, for the sessions opened later (a photo's detector). */
    private readonly intraOpThreads: number | undefined,
  ) {}

  static async open(
    opts: SessionOptions & { modelsDir?: string; projection?: HeadModel; encoder?: EncoderName } = {},
  ): Promise<FaceEngine> {
    const dir = opts.modelsDir ?? defaultModelsDir();
    const manifest = readManifest(dir);
    const encoding = encoderEntry(manifest, opts.encoder);
    if (opts.int8 && !encoding.int8)
      throw new Error(
        `int8: the ${opts.encoder ?? DEFAULT_ENCODER} encoder has no int8 graph (only dlib has)`,
      );
    const [detector, landmarker, encoder] = await Promise.all([
      openModel(dir, manifest.models.detector, opts),
      openModel(dir, manifest.models.landmarks, opts),
      openModel(dir, encoding, opts),
    ]);
    const engine = new FaceEngine(detector, landmarker, encoder, dir, opts.projection, opts.intraOpThreads);
    try {
      await engine.checkEncoder(manifest);
      opts.projection?.assertFits('triplet', engine.unitEncoderId);
    } catch (err) {
      await engine.release();
      throw err;
    }
    return engine;
  }

  get encoder(): ModelSession {
    return this.encoderSession;
  }

  /**
   * An encoder whose output can depend on the machine (the int8 graph, any graph on a GPU
   * provider) must give the float graph's embeddings on the self-check faces, or the float graph
   * on the CPU runs instead (self-check.ts).
   */
  private async checkEncoder(manifest: ModelManifest): Promise<void> {
    const candidate = this.encoderSession;
    const float = [manifest.models.encoder, manifest.models.mobilefacenet].find(
      (e) => e === candidate.entry || e.int8 === candidate.entry,
    )!;
    if (candidate.entry === float && candidate.provider === 'cpu') return;
    const reference = await openModel(this.modelsDir, float, { providers: ['cpu'] });
    const encodeWith =
      (m: ModelSession): ChipEncoder =>
      async (chips, count) =>
        (await this.encodeChipsWith(m, chips, count)).map(unitLength);
    this.selfCheck = await checkEncoder(
      `${candidate.entry === float ? 'float' : 'int8'} on ${candidate.provider}`,
      encodeWith(candidate),
      encodeWith(reference),
      async () => {
        const photos = await selfCheckPhotos(this.modelsDir, manifest);
        const aligned = await Promise.all(photos.map((p) => this.align(p, { select: 'all' })));
        // Every photo's chips in one batch.
        const data = new Float32Array(aligned.reduce((n, a) => n + a.chips.length, 0));
        let at = 0;
        for (const { chips } of aligned) {
          data.set(chips, at);
          at += chips.length;
        }
        return { data, count: aligned.reduce((n, a) => n + a.count, 0) };
      },
    );
    const [kept, dropped] = this.selfCheck.passed ? [candidate, reference] : [reference, candidate];
    this.encoderSession = kept;
    await dropped.session.release();
  }

  /** The triplet head's manifest (its calibrated threshold), when one projects the embeddings. */
  get projectionManifest(): HeadManifest | undefined {
    return this.projection?.manifest;
  }

  /** The execution provider each model runs on, for logs and metrics. */
  get providers(): Record<'detector' | 'landmarks' | 'encoder', ExecutionProvider> {
    return {
      detector: this.detector.provider,
      landmarks: this.landmarker.provider,
      encoder: this.encoder.provider,
    };
  }

  /**
   * What made the embeddings: the encoder's sha256, plus the triplet head's when one projects
   * them. Embeddings are only comparable when this matches; the gallery re-embeds when it changes.
   */
  get encoderId(): string {
    return this.projection ? `${this.unitEncoderId}+${this.projection.id}` : this.unitEncoderId;
  }

  /**
   * The encoder's sha256 marked as giving unit-length embeddings: galleries embedded before
   * embeddings were normalised carry the bare sha256 and are re-embedded.
   */
  get unitEncoderId(): string {
    return `${this.encoder.entry.sha256}/unit`;
  }

  get encoderSize(): number {
    return this.encoder.entry.inputs[0]!.shape[1] as number;
  }

  /** Faces in `image`, largest first; see AnalyzeOptions.select (default 'largest'). */
  async analyze(image: RgbImage, opts: AnalyzeOptions = {}): Promise<Face[]> {
    const t = opts.timings ?? {};
    const found = await this.align(image, { ...opts, timings: t });
    if (!found.count) return [];
    const start = performance.now();
    const { chips, count } = found;
    const pick = opts.mirror;
    const once = typeof pick === 'function' || pick === false;
    const encoded = once ? await this.encodeChips(chips, count) : await this.encodeWithMirror(chips, count);
    const faces: Face[] = (await this.finish(encoded)).map((embedding, i) => ({
      ...found.faces[i]!,
      embedding,
    }));
    if (typeof pick === 'function') {
      const again: number[] = [];
      for (const [i, face] of faces.entries()) if (await pick(face)) again.push(i);
      if (again.length) {
        // Only the mirror images are encoded now: each face's own pass is already in `encoded`.
        const size = this.encoderSize;
        const mirrors = await this.encodeChips(
          mirrorImages(chipsAt(chips, again, size), again.length, size),
          again.length,
        );
        const averaged = await this.finish(again.map((i, k) => average(encoded[i]!, mirrors[k]!)));
        again.forEach((i, k) => (faces[i] = { ...faces[i]!, embedding: averaged[k]! }));
      }
    }
    t.encode = performance.now() - start;
    return faces;
  }

  /** Encoder outputs as the gallery holds them: unit length, then projected by a triplet head. */
  private async finish(encoded: Float32Array[]): Promise<Float32Array[]> {
    const unit = encoded.map(unitLength);
    return this.projection ? this.projection.project(unit) : unit;
  }

  /**
   * Everything before the encoder: the selected faces, each with its landmarks and quality, and
   * their chips (NHWC RGB 0..255, count x size x size x 3) as the encoder will see them.
   */
  async align(
    image: RgbImage,
    opts: AnalyzeOptions = {},
  ): Promise<{ faces: Omit<Face, 'embedding'>[]; chips: Float32Array; count: number }> {
    // One pyramid per image: the detector's levels and every crop below sample from it.
    const t = opts.timings ?? {};
    let mark = performance.now();
    const lap = () => {
      const now = performance.now();
      const ms = now - mark;
      mark = now;
      return ms;
    };
    const pyramid = new ImagePyramid(image);
    const detector = { ...DEFAULT_DETECTOR_OPTIONS, ...opts.detector };
    // The GPU providers keep their own memory, and building a TensorRT engine takes minutes.
    const ownSession = opts.photo && this.detector.provider === 'cpu';
    const session = ownSession
      ? await openModel(this.modelsDir, this.detector.entry, {
          providers: ['cpu'],
          ...(this.intraOpThreads === undefined ? {} : { intraOpThreads: this.intraOpThreads }),
        })
      : this.detector;
    let found: Detection[];
    try {
      found = await detectFaces(session, pyramid, detector);
      if (!found.length && (opts.secondLook ?? (opts.select ?? 'largest') !== 'all')) {
        // Every level at 1/sqrt(2) of the first look's: no upscaling, the gaps between octaves.
        found = await detectFaces(session, pyramid, {
          ...detector,
          minFaceSize: detector.minFaceSize * Math.SQRT2,
        });
      }
    } finally {
      if (ownSession) await session.session.release();
    }
    const dets = selectFaces(found, image, opts.select ?? 'largest');
    t.detect = lap();
    const size = this.encoderSize;
    const per = size * size * 3;
    const chips = new Float32Array(dets.length * per);
    if (!dets.length) return { faces: [], chips, count: 0 };
    const landmarks = await this.landmarks(
      pyramid,
      dets.map((d) => d.box),
    );
    t.landmarks = lap();
    const aligned = (opts.crop ?? 'aligned') === 'aligned';
    const arcface = this.encoder.entry.preprocessing.pad === 'none: aligned to the ArcFace template';
    const faces = dets.map((d, i) => {
      const m = !aligned
        ? boxCropTransform(d.box, size)
        : arcface
          ? arcfaceTransform(landmarks[i]!, size)
          : alignmentTransform(landmarks[i]!, size);
      const chip = chips.subarray(i * per, (i + 1) * per);
      pyramid.warp(m, size, size, chip);
      // The gates were calibrated on dlib's 150-pixel chip (sharpness depends on the crop and its
      // scale: on ArcFace's tighter 112-pixel chip the same face measured 3x sharper), so the
      // quality of a face is measured there whichever encoder runs.
      const measuredOn = aligned && arcface ? this.dlibChip(landmarks[i]!, pyramid) : chip;
      const quality = measureQuality({
        landmarks: landmarks[i]!,
        score: d.score,
        outside: d.outside,
        chip: measuredOn,
        chipSize: measuredOn === chip ? size : QUALITY_CHIP,
      });
      return { box: d.box, score: d.score, landmarks: landmarks[i]!, quality };
    });
    t.align = lap();
    return { faces, chips, count: dets.length };
  }

  /**
   * dlib's 150-pixel chip of a face, for its quality alone: one buffer, reused face after face
   * (measureQuality reads it at once, and nothing awaits between the warp and the read).
   */
  private dlibChip(landmarks: readonly Point[], pyramid: ImagePyramid): Float32Array {
    const chip = (this.qualityScratch ??= new Float32Array(QUALITY_CHIP * QUALITY_CHIP * 3));
    pyramid.warp(alignmentTransform(landmarks, QUALITY_CHIP), QUALITY_CHIP, QUALITY_CHIP, chip);
    return chip;
  }

  /**
   * 68 landmarks per box. As in face-api, the box is cut out, padded to a square around its
   * centre with black, and scaled to the network's input; outputs are fractions of that square.
   */
  async landmarks(image: RgbImage | ImagePyramid, boxes: readonly Rect[]): Promise<Point[][]> {
    const pyramid = image instanceof ImagePyramid ? image : new ImagePyramid(image);
    const size = this.landmarker.entry.inputs[0]!.shape[1] as number;
    const input = new Float32Array(boxes.length * size * size * 3);
    const crops = boxes.map((box, i) => {
      const m = boxCropTransform(box, size);
      pyramid.warp(m, size, size, input, i * size * size * 3, box);
      return m;
    });
    const out = (await runModel(this.landmarker, input, [boxes.length, size, size, 3])).data as Float32Array;
    return crops.map((m, i) =>
      Array.from({ length: 68 }, (_, k): Point => {
        const u = out[i * 136 + 2 * k]! * size;
        const v = out[i * 136 + 2 * k + 1]! * size;
        return [m[0] * u + m[2], m[4] * v + m[5]];
      }),
    );
  }

  /**
   * Encodes `count` chips together with their mirror images and averages each pair: a face and
   * its mirror are the same person, and the average is steadier under pose and lighting
   * (equal error rate 1.3% -> 0.9% on lfw-dev) for twice the encoder time.
   */
  async encodeWithMirror(chips: Float32Array, count: number): Promise<Float32Array[]> {
    const all = await this.encodeChips(withMirrors(chips, count, this.encoderSize), 2 * count);
    return all.slice(0, count).map((e, i) => average(e, all[count + i]!));
  }

  /** Encodes ready chips (NHWC RGB 0..255, `count` x size x size x 3), one pass each. */
  async encodeChips(chips: Float32Array, count: number): Promise<Float32Array[]> {
    return this.encodeChipsWith(this.encoderSession, chips, count);
  }

  private async encodeChipsWith(
    encoder: ModelSession,
    chips: Float32Array,
    count: number,
  ): Promise<Float32Array[]> {
    const size = this.encoderSize;
    const out = (await runModel(encoder, chips, [count, size, size, 3])).data as Float32Array;
    const dim = out.length / count;
    return Array.from({ length: count }, (_, i) => out.slice(i * dim, (i + 1) * dim));
  }

  async release(): Promise<void> {
    await Promise.all([
      this.detector.session.release(),
      this.landmarker.session.release(),
      this.encoderSession.session.release(),
      this.projection?.release(),
    ]);
  }
}

/** The chips at `indices`, in that order, from a batch of chips. */
function chipsAt(chips: Float32Array, indices: readonly number[], size: number): Float32Array {
  const per = size * size * 3;
  const out = new Float32Array(indices.length * per);
  indices.forEach((i, k) => out.set(chips.subarray(i * per, (i + 1) * per), k * per));
  return out;
}

/** `count` chips followed by their mirror images (left and right swapped). */
export function withMirrors(chips: Float32Array, count: number, size: number): Float32Array {
  const per = size * size * 3;
  const both = new Float32Array(2 * count * per);
  both.set(chips.subarray(0, count * per));
  both.set(mirrorImages(chips, count, size), count * per);
  return both;
}

/** The mirror images (left and right swapped) of `count` chips. */
function mirrorImages(chips: Float32Array, count: number, size: number): Float32Array {
  const out = new Float32Array(count * size * size * 3);
  for (let i = 0; i < count; i++) {
    const from = i * size * size * 3;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const s = from + (y * size + x) * 3;
        const d = from + (y * size + (size - 1 - x)) * 3;
        out[d] = chips[s]!;
        out[d + 1] = chips[s + 1]!;
        out[d + 2] = chips[s + 2]!;
      }
    }
  }
  return out;
}

/** A face's embedding from its own and its mirror image's encoder outputs. */
function average(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, k) => (v + b[k]!) / 2);
}

function selectFaces(dets: Detection[], image: RgbImage, select: FaceSelection): Detection[] {
  const area = (d: Detection): number => d.box.width * d.box.height;
  const byArea = [...dets].sort((a, b) => area(b) - area(a));
  if (select === 'all' || byArea.length < 2) return byArea;
  if (select === 'largest') return byArea.slice(0, 1);
  const off = (d: Detection): number =>
    Math.hypot(d.box.x + d.box.width / 2 - image.width / 2, d.box.y + d.box.height / 2 - image.height / 2);
  return [byArea.reduce((best, d) => (off(d) < off(best) ? d : best))];
}

/** Euclidean distance between two embeddings: the d(img1, img2) that facegate thresholds. */
export function euclidean(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding lengths differ: ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return Math.sqrt(s);
}

/**
 * Same person when the distance between unit-length embeddings is under this. dlib's operating
 * point, 0.6 on its raw embeddings, has the same false-accept rate on lfw-dev as 0.42 here, and
 * the LFW 10-fold protocol picks 0.419-0.420 on lfw-dev pairs (bench/RESULTS.md, 2026-11-29).
 */
export const DEFAULT_THRESHOLD = 0.42;

/**
 * Each encoder's default threshold (match.threshold 0): dlib's as above; MobileFaceNet's where
 * its false-accept rate on lfw-dev pairs is dlib's at 0.42 (bench/RESULTS.md, 2026-12-06).
 */
export const ENCODER_THRESHOLDS: Record<EncoderName, number> = {
  dlib: DEFAULT_THRESHOLD,
  mobilefacenet: 1.12,
};

/**
 * Each encoder's threshold at a door (the daemon's, and facegate eval --openset's, with
 * match.threshold 0). A door compares every face with everyone enrolled, and most faces it sees
 * belong to nobody enrolled: the pairs thresholds above let half of such strangers through as
 * somebody with 100 people enrolled. These are the thresholds at which, with DOOR_GALLERY_SIZE
 * people enrolled from one photo each, one stranger's face in 1,000 is taken for somebody (FPIR
 * 1e-3): facegate calibrate --openset on lfw-dev (bench/RESULTS.md, 2026-12-06: open-set
 * decisions). A gallery ten times as large needs a stricter one: calibrate for yours.
 */
export const DOOR_THRESHOLDS: Record<EncoderName, number> = {
  dlib: 0.307,
  mobilefacenet: 0.91,
};
export const DOOR_GALLERY_SIZE = 100;

type ThresholdConfig = { match: { threshold: number }; models: { encoder: EncoderName } };

/** One comparison's threshold (verify, enrollment's duplicate check): match.threshold, or the encoder's pairs one. */
export function matchThreshold(config: ThresholdConfig): number {
  return config.match.threshold || ENCODER_THRESHOLDS[config.models.encoder];
}

/** A door's threshold (the daemon, open-set evaluation): match.threshold, or the encoder's door one. */
export function doorThreshold(config: ThresholdConfig): number {
  return config.match.threshold || DOOR_THRESHOLDS[config.models.encoder];
}

/**
 * The encoder's embeddings scaled to length 1. Their length (1.3-1.55 on lfw-dev) says nothing
 * about who it is: on lfw-dev pairs TAR at FAR 1e-3 goes 91.7% -> 96.0% with 10-fold accuracy
 * unchanged (98.90% -> 98.93%).
 */
/** An embedding's Euclidean length. */
export function vectorLength(e: Float32Array): number {
  let s = 0;
  for (const v of e) s += v * v;
  return Math.sqrt(s);
}

function unitLength(e: Float32Array): Float32Array {
  const n = vectorLength(e) || 1;
  return e.map((v) => v / n);
}
