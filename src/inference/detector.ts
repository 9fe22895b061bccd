// Face detection with the converted tiny face detector over an image pyramid. The network finds
// faces reliably when their box is about 45-130 px in its input (measured on lfw-dev: 95-99%
// found there, under 10% below 40 px, about 50% above 250 px), so one input size cannot serve a
// 720p door camera (faces of 40-400 px) or a phone photo. Each level scales the whole image
// (padded at the bottom/right to multiples of 32, the network being fully convolutional), the
// levels halve in scale until the image itself fits the network's comfortable range, and
// boxes from all levels are merged by non-maximum suppression.
import type { RgbImage } from '../vision/image.js';
import { ImagePyramid, iou, type PixelImage, type Rect } from '../vision/warp.js';
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
const CELL = 32;
/** Box side (network pixels) the smallest face of interest is scaled to: inside the reliable range. */
const TARGET_MIN_FACE = 48;
/** The last level is the one where the whole image fits in this many network pixels. */
const COARSEST_SIDE = 160;

export type Detection = {
  /** The box clipped to the image. */
  box: Rect;
  score: number;
  /** Fraction of the unclipped box outside the image: a face cut by the frame edge. */
  outside: number;
};

export type DetectorOptions = {
  /**
   * Smallest face box side to find, in image pixels (about 2.4x the distance between the eyes).
   * The default, 48 (20 px between the eyes), runs a 720p frame at its own resolution.
   */
  minFaceSize: number;
  /** Longest side of the finest pyramid level, in network pixels: bounds the cost on huge photos. */
  maxInputSide: number;
  minScore: number;
  /** Boxes overlapping a better one by more than this IoU are dropped. */
  iouThreshold: number;
};

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  minFaceSize: 48,
  maxInputSide: 1920,
  minScore: 0.5,
  iouThreshold: 0.4,
};

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** The scales (network pixels per image pixel) of the pyramid levels, finest first. */
export function pyramidScales(width: number, height: number, opts: DetectorOptions): number[] {
  const longest = Math.max(width, height);
  let scale = Math.min(TARGET_MIN_FACE / opts.minFaceSize, opts.maxInputSide / longest);
  const scales = [scale];
  while (longest * scale > COARSEST_SIDE) {
    scale /= 2;
    scales.push(scale);
  }
  return scales;
}

export async function detectFaces(
  model: ModelSession,
  source: RgbImage | ImagePyramid,
  opts: DetectorOptions = DEFAULT_DETECTOR_OPTIONS,
): Promise<Detection[]> {
  const pyramid = source instanceof ImagePyramid ? source : new ImagePyramid(source);
  const candidates: Detection[] = [];
  for (const scale of pyramidScales(pyramid.width, pyramid.height, opts)) {
    const level = await pyramid.at(scale);
    candidates.push(...(await detectInLevel(model, level, pyramid, 1 / scale, opts.minScore)));
  }
  return nonMaxSuppression(candidates, opts.iouThreshold).filter((d) => d.box.width > 1 && d.box.height > 1);
}

/** Runs the network on one level (padded at the bottom/right to multiples of 32). */
async function detectInLevel(
  model: ModelSession,
  level: PixelImage,
  image: { width: number; height: number },
  imagePixelsPerLevelPixel: number,
  minScore: number,
): Promise<Detection[]> {
  const width = Math.max(CELL, Math.ceil(level.width / CELL) * CELL);
  const height = Math.max(CELL, Math.ceil(level.height / CELL) * CELL);
  // Clamped: a halved level holds averages (x.25, x.5), rounded here to the nearest integer.
  const input = new Uint8ClampedArray(width * height * 3);
  for (let y = 0; y < level.height; y++) {
    input.set(level.data.subarray(y * level.width * 3, (y + 1) * level.width * 3), y * width * 3);
  }
  const grid = await runModel(model, new Uint8Array(input.buffer), [1, height, width, 3]);
  const [, rows, cols] = grid.dims as [number, number, number, number];
  const data = grid.data as Float32Array;
  const unit = CELL * imagePixelsPerLevelPixel; // image pixels per grid cell
  const found: Detection[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      for (let a = 0; a < ANCHORS.length; a++) {
        const o = ((row * cols + col) * ANCHORS.length + a) * VALUES_PER_ANCHOR;
        const score = sigmoid(data[o + 4]!);
        if (score < minScore) continue;
        const [aw, ah] = ANCHORS[a]!;
        const cx = (col + sigmoid(data[o]!)) * unit;
        const cy = (row + sigmoid(data[o + 1]!)) * unit;
        const w = Math.exp(data[o + 2]!) * aw * unit;
        const h = Math.exp(data[o + 3]!) * ah * unit;
        const box = clipToImage({ x: cx - w / 2, y: cy - h / 2, width: w, height: h }, image);
        found.push({ box, score, outside: 1 - (box.width * box.height) / (w * h) });
      }
    }
  }
  return found;
}

function clipToImage(r: Rect, image: { width: number; height: number }): Rect {
  const x = Math.max(0, r.x);
  const y = Math.max(0, r.y);
  return {
    x,
    y,
    width: Math.min(image.width, r.x + r.width) - x,
    height: Math.min(image.height, r.y + r.height) - y,
  };
}

/** Greedy NMS, best score first. */
export function nonMaxSuppression(dets: Detection[], threshold: number): Detection[] {
  const sorted = [...dets].sort((p, q) => q.score - p.score);
  const kept: Detection[] = [];
  for (const d of sorted) if (kept.every((k) => iou(k.box, d.box) <= threshold)) kept.push(d);
  return kept;
}
