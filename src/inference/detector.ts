// Face detection with the converted tiny face detector over an image pyramid. The network finds
// faces reliably when their box is about 45-130 px in its input (measured on lfw-dev: 95-99%
// found there, under 10% below 40 px, about 50% above 250 px), so one input size cannot serve a
// 720p door camera (faces of 40-400 px) or a phone photo. The first level scales the whole
// image so that the smallest face of interest lands in that range; the graph halves it level by
// level (each padded at the bottom/right to multiples of 32, the network being fully
// convolutional) until the image itself fits the network's comfortable range, and boxes from all
// levels are merged by non-maximum suppression.
import * as ort from 'onnxruntime-node';
import type { RgbImage } from '../vision/image.js';
import { ImagePyramid, iou, type Rect } from '../vision/warp.js';
import type { ModelSession } from './session.js';

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
/** Levels the detector graph computes in one run (tools/nets.ts): the first and 4 halvings. */
export const DETECTOR_LEVELS = 5;
/** The largest first level those levels reach down from: 160 * 2^4 = 2560 px on its longer side. */
export const MAX_INPUT_SIDE = COARSEST_SIDE * 2 ** (DETECTOR_LEVELS - 1);

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
  /**
   * Longest side of the finest pyramid level, in network pixels: bounds the cost on huge photos.
   * At most MAX_INPUT_SIDE.
   */
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
  const scales = pyramidScales(pyramid.width, pyramid.height, opts);
  const { image, roundsHalvings } = await pyramid.detectorLevel(scales[0]!);
  const grids = await runDetector(model, image, scales.length, roundsHalvings);
  const candidates = grids.flatMap((grid, k) => decodeGrid(grid, pyramid, 1 / scales[k]!, opts.minScore));
  return nonMaxSuppression(candidates, opts.iouThreshold).filter((d) => d.box.width > 1 && d.box.height > 1);
}

type Grid = { data: Float32Array; rows: number; cols: number };

/** Rounding halvings to 2^-15 of a grey level keeps them exact (tools/nets.ts). */
const EXACT_HALVINGS = 2 ** 15;

/**
 * Runs the network on `levels` levels of a pyramid in one call: `image` and its halvings (rounded
 * to bytes each time when `roundsHalvings`, else exact), each padded at the bottom/right to
 * multiples of 32 inside the graph. Returns each level's grid of anchors.
 */
export async function runDetector(
  model: ModelSession,
  image: RgbImage,
  levels: number,
  roundsHalvings: boolean,
): Promise<Grid[]> {
  if (levels < 1 || levels > DETECTOR_LEVELS) {
    throw new Error(
      `${model.entry.file}: ${levels} pyramid levels asked, it computes 1 to ${DETECTOR_LEVELS}`,
    );
  }
  // Each level's rows and columns of padding to multiples of 32; the levels not asked for (the
  // graph computes all of them) are cut or padded to one cell, about 0.1 ms each.
  const pads = new BigInt64Array(2 * DETECTOR_LEVELS);
  let [height, width] = [image.height, image.width];
  for (let k = 0; k < DETECTOR_LEVELS; k++, height = Math.floor(height / 2), width = Math.floor(width / 2)) {
    const fit = (n: number): number => (k < levels ? Math.max(CELL, Math.ceil(n / CELL) * CELL) : CELL);
    pads[2 * k] = BigInt(fit(height) - height);
    pads[2 * k + 1] = BigInt(fit(width) - width);
  }
  const result = await model.session.run({
    image: new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3]),
    level_pads: new ort.Tensor('int64', pads, [DETECTOR_LEVELS, 2]),
    halving_resolution: new ort.Tensor('float32', Float32Array.of(roundsHalvings ? 1 : EXACT_HALVINGS), []),
  });
  return Array.from({ length: levels }, (_, k) => {
    const grid = result[`grid${k}`];
    if (!grid) throw new Error(`${model.entry.file}: no output named grid${k}`);
    const [, rows, cols] = grid.dims as [number, number, number, number];
    return { data: grid.data as Float32Array, rows, cols };
  });
}

/** The boxes of one level's grid that score at least `minScore`, in image coordinates. */
function decodeGrid(
  { data, rows, cols }: Grid,
  image: { width: number; height: number },
  imagePixelsPerLevelPixel: number,
  minScore: number,
): Detection[] {
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
