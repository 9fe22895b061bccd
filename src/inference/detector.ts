// Face detection with the converted tiny face detector: letterbox the image into an S x S square
// (padding at the bottom/right, as the model was used in face-api), run, decode the YOLO grid,
// and suppress overlapping boxes.
import type { RgbImage } from '../vision/image.js';
import { warpAffine, type Rect } from '../vision/warp.js';
import { runModel, type ModelSession } from './session.js';

/** Anchor sizes in grid cells, from face-api's tinyFaceDetector/const.ts. */
const ANCHORS: readonly [number, number][] = [
  [1.603231, 2.094468],
  [6.041143, 7.080126],
  [2.882459, 3.518061],
  [4.266906, 5.178857],
  [9.041765, 10.66308],
];
const VALUES_PER_ANCHOR = 5;

export type Detection = { box: Rect; score: number };

export type DetectorOptions = {
  /** Network input side in pixels, a multiple of 32: larger finds smaller faces, costs more. */
  inputSize: number;
  minScore: number;
  /** Boxes overlapping a better one by more than this IoU are dropped. */
  iouThreshold: number;
};

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = { inputSize: 416, minScore: 0.5, iouThreshold: 0.4 };

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export async function detectFaces(
  model: ModelSession,
  image: RgbImage,
  opts: DetectorOptions = DEFAULT_DETECTOR_OPTIONS,
): Promise<Detection[]> {
  const size = opts.inputSize;
  if (size % 32 !== 0 || size < 32)
    throw new Error(`detector input size ${size} is not a positive multiple of 32`);
  const side = Math.max(image.width, image.height);
  const scale = side / size;
  const input = new Float32Array(size * size * 3);
  warpAffine(image, [scale, 0, 0, 0, scale, 0], size, size, input);
  const grid = await runModel(model, input, [1, size, size, 3]);
  const [, cells] = grid.dims as [number, number, number, number];
  const data = grid.data as Float32Array;

  const candidates: Detection[] = [];
  for (let row = 0; row < cells; row++) {
    for (let col = 0; col < cells; col++) {
      for (let a = 0; a < ANCHORS.length; a++) {
        const o = ((row * cells + col) * ANCHORS.length + a) * VALUES_PER_ANCHOR;
        const score = sigmoid(data[o + 4]!);
        if (score < opts.minScore) continue;
        const [aw, ah] = ANCHORS[a]!;
        const cx = ((col + sigmoid(data[o]!)) / cells) * side;
        const cy = ((row + sigmoid(data[o + 1]!)) / cells) * side;
        const w = ((Math.exp(data[o + 2]!) * aw) / cells) * side;
        const h = ((Math.exp(data[o + 3]!) * ah) / cells) * side;
        candidates.push({
          box: clipToImage({ x: cx - w / 2, y: cy - h / 2, width: w, height: h }, image),
          score,
        });
      }
    }
  }
  return nonMaxSuppression(candidates, opts.iouThreshold).filter((d) => d.box.width > 1 && d.box.height > 1);
}

function clipToImage(r: Rect, image: RgbImage): Rect {
  const x = Math.max(0, r.x);
  const y = Math.max(0, r.y);
  return {
    x,
    y,
    width: Math.min(image.width, r.x + r.width) - x,
    height: Math.min(image.height, r.y + r.height) - y,
  };
}

export function iou(a: Rect, b: Rect): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy NMS, best score first. */
export function nonMaxSuppression(dets: Detection[], threshold: number): Detection[] {
  const sorted = [...dets].sort((p, q) => q.score - p.score);
  const kept: Detection[] = [];
  for (const d of sorted) if (kept.every((k) => iou(k.box, d.box) <= threshold)) kept.push(d);
  return kept;
}
