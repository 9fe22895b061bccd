// The face pipeline for one image: detect, find 68 landmarks per face, align each face to the
// encoder's 150x150 chip, encode all faces in one batch. Returns faces in image coordinates
// with their embeddings; deciding what to do with them is the caller's business.
import { alignmentTransform, boxCropTransform, type Point } from '../vision/alignment.js';
import type { RgbImage } from '../vision/image.js';
import { warpAffine, type Affine, type Rect } from '../vision/warp.js';
import { DEFAULT_DETECTOR_OPTIONS, detectFaces, type DetectorOptions } from './detector.js';
import { defaultModelsDir, readManifest } from './model-manifest.js';
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
  embedding: Float32Array;
};

export type CropMode = 'aligned' | 'box';

export type AnalyzeOptions = {
  /** Every face, or only the largest (the usual case for an enrollment photo or a door). */
  allFaces?: boolean;
  /** 'aligned' (default) warps by landmarks; 'box' crops the detection box, for comparison. */
  crop?: CropMode;
  detector?: Partial<DetectorOptions>;
};

export class FaceEngine {
  private constructor(
    readonly detector: ModelSession,
    readonly landmarker: ModelSession,
    readonly encoder: ModelSession,
    readonly modelsDir: string,
  ) {}

  static async open(opts: SessionOptions & { modelsDir?: string } = {}): Promise<FaceEngine> {
    const dir = opts.modelsDir ?? defaultModelsDir();
    const manifest = readManifest(dir);
    const [detector, landmarker, encoder] = await Promise.all([
      openModel(dir, manifest.models.detector, opts),
      openModel(dir, manifest.models.landmarks, opts),
      openModel(dir, manifest.models.encoder, opts),
    ]);
    return new FaceEngine(detector, landmarker, encoder, dir);
  }

  /** The execution provider each model runs on, for logs and metrics. */
  get providers(): Record<'detector' | 'landmarks' | 'encoder', ExecutionProvider> {
    return {
      detector: this.detector.provider,
      landmarks: this.landmarker.provider,
      encoder: this.encoder.provider,
    };
  }

  /** sha256 of the encoder: embeddings are only comparable when this matches. */
  get encoderId(): string {
    return this.encoder.entry.sha256;
  }

  async analyze(image: RgbImage, opts: AnalyzeOptions = {}): Promise<Face[]> {
    let dets = await detectFaces(this.detector, image, { ...DEFAULT_DETECTOR_OPTIONS, ...opts.detector });
    if (!opts.allFaces && dets.length > 1) {
      const area = (r: Rect): number => r.width * r.height;
      dets = [dets.reduce((best, d) => (area(d.box) > area(best.box) ? d : best))];
    }
    if (!dets.length) return [];
    const landmarks = await this.landmarks(
      image,
      dets.map((d) => d.box),
    );
    const crop = opts.crop ?? 'aligned';
    const transforms = dets.map((d, i) =>
      crop === 'aligned'
        ? alignmentTransform(landmarks[i]!, this.encoderSize)
        : boxCropTransform(d.box, this.encoderSize),
    );
    const embeddings = await this.encode(image, transforms);
    return dets.map((d, i) => ({
      box: d.box,
      score: d.score,
      landmarks: landmarks[i]!,
      embedding: embeddings[i]!,
    }));
  }

  get encoderSize(): number {
    return this.encoder.entry.inputs[0]!.shape[1] as number;
  }

  /**
   * 68 landmarks per box. As in face-api, the box is cut out, padded to a square around its
   * centre with black, and scaled to the network's input; outputs are fractions of that square.
   */
  async landmarks(image: RgbImage, boxes: readonly Rect[]): Promise<Point[][]> {
    const size = this.landmarker.entry.inputs[0]!.shape[1] as number;
    const input = new Float32Array(boxes.length * size * size * 3);
    const crops = boxes.map((box, i) => {
      const m = boxCropTransform(box, size);
      warpAffine(image, m, size, size, input, i * size * size * 3, box);
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

  /** Warps each face with its chip-to-image map and encodes them in one batch. */
  async encode(image: RgbImage, transforms: readonly Affine[]): Promise<Float32Array[]> {
    const size = this.encoderSize;
    const per = size * size * 3;
    const input = new Float32Array(transforms.length * per);
    transforms.forEach((m, i) => warpAffine(image, m, size, size, input, i * per));
    return this.encodeChips(input, transforms.length);
  }

  /** Encodes ready chips (NHWC RGB 0..255, `count` x size x size x 3). */
  async encodeChips(chips: Float32Array, count: number): Promise<Float32Array[]> {
    const size = this.encoderSize;
    const out = (await runModel(this.encoder, chips, [count, size, size, 3])).data as Float32Array;
    const dim = out.length / count;
    return Array.from({ length: count }, (_, i) => out.slice(i * dim, (i + 1) * dim));
  }

  async release(): Promise<void> {
    await Promise.all([
      this.detector.session.release(),
      this.landmarker.session.release(),
      this.encoder.session.release(),
    ]);
  }
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

/** dlib's operating point for this encoder: same person when the distance is under 0.6. */
export const DEFAULT_THRESHOLD = 0.6;
