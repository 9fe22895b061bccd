// Geometric image operations that feed the networks: every crop, letterbox and alignment is an
// affine map from output pixels to source pixels, sampled bilinearly. One routine for all of
// them keeps the coordinate conventions (pixel centres at +0.5) in one place.
import type { RgbImage } from './image.js';
import sharp from './libvips.js';

/** Maps an output pixel (x, y) to source coordinates: [a, b, c, d, e, f] -> (a*x + b*y + c, d*x + e*y + f). */
export type Affine = [number, number, number, number, number, number];

export type Rect = { x: number; y: number; width: number; height: number };

/** Intersection over union of two boxes: 1 for the same box, 0 when they do not touch. */
/** The area two boxes share. */
export function overlapArea(a: Rect, b: Rect): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return ix * iy;
}

export function iou(a: Rect, b: Rect): number {
  const inter = overlapArea(a, b);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** The linear scale of an affine map: source pixels per output pixel. */
export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/** Halves an image by averaging 2x2 blocks, rounded half up (an odd last row or column is dropped). */
function halve(src: RgbImage): RgbImage {
  const width = Math.floor(src.width / 2);
  const height = Math.floor(src.height / 2);
  const out = new Uint8Array(width * height * 3);
  const d = src.data;
  const row = src.width * 3;
  let o = 0;
  for (let y = 0; y < height; y++) {
    let i = 2 * y * row;
    let j = i + row;
    for (let x = 0; x < width; x++, i += 6, j += 6) {
      out[o++] = (d[i]! + d[i + 3]! + d[j]! + d[j + 3]! + 2) >> 2;
      out[o++] = (d[i + 1]! + d[i + 4]! + d[j + 1]! + d[j + 4]! + 2) >> 2;
      out[o++] = (d[i + 2]! + d[i + 5]! + d[j + 2]! + d[j + 5]! + 2) >> 2;
    }
  }
  return { width, height, data: out };
}

/** A level of a pyramid: the image at `factor` image pixels per level pixel. */
type Level = { factor: number; image: RgbImage };

/**
 * An image at the scales one frame needs, each made once and kept: its halvings, and levels
 * resized by libvips with their halvings. The detector's first level and every crop and chip of
 * the frame sample from the coarsest level that still has at least one pixel per output pixel,
 * instead of averaging many samples per pixel from the full image. Every level is bytes: one
 * element type keeps warpAffine monomorphic (a 150x150 chip took 0.50 ms, not 0.40, while it also
 * read float halvings).
 */
export class ImagePyramid {
  private readonly halvings: RgbImage[];
  /** Levels made by libvips and their halvings. */
  private readonly resized: Level[] = [];

  constructor(readonly image: RgbImage) {
    this.halvings = [image];
  }

  get width(): number {
    return this.image.width;
  }

  get height(): number {
    return this.image.height;
  }

  /** The image halved k times. */
  level(k: number): RgbImage {
    while (this.halvings.length <= k) this.halvings.push(halve(this.halvings[this.halvings.length - 1]!));
    return this.halvings[k]!;
  }

  /**
   * The image at `scale` (level pixels per image pixel): a halving when the scale is 1/2^k; else
   * the halving of a level at twice the scale when there is one, or the image resized by libvips
   * (antialiased, SIMD: 3 ms for 720p where JavaScript took 20; also any upsampling).
   */
  async at(scale: number): Promise<RgbImage> {
    const factor = 1 / scale;
    if (isHalvingFactor(factor)) return this.level(Math.log2(factor));
    const made = this.resizedAt(factor);
    if (made) return made.image;
    const finer = this.resizedAt(factor / 2);
    if (finer) return this.halveResized(finer).image;
    const image = await this.resize(scale);
    this.resized.push({ factor, image });
    return image;
  }

  /**
   * The first level of a detector pyramid at `scale`, and whether the detector rounds its halvings
   * of it to bytes, as this pyramid does. Below the image itself it keeps them exact, as it always
   * has: facegate's accuracy figures were measured that way.
   */
  async detectorLevel(scale: number): Promise<{ image: RgbImage; roundsHalvings: boolean }> {
    return { image: await this.at(scale), roundsHalvings: scale !== 1 };
  }

  private resizedAt(factor: number): Level | undefined {
    return this.resized.find((l) => Math.abs(l.factor / factor - 1) < 1e-9);
  }

  /** A resized level halved; made once. */
  private halveResized(level: Level): Level {
    const made = this.resizedAt(level.factor * 2);
    if (made) return made;
    const halved = { factor: level.factor * 2, image: halve(level.image) };
    this.resized.push(halved);
    return halved;
  }

  private async resize(scale: number): Promise<RgbImage> {
    const { width, height, data } = this.image;
    const { data: out, info } = await sharp(data, { raw: { width, height, channels: 3 } })
      .resize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), {
        fit: 'fill',
        kernel: 'linear',
      })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(out.buffer, out.byteOffset, out.length),
    };
  }

  /**
   * warpAffine from the coarsest level that still has at least one source pixel per output pixel:
   * a halving of the image, or of a resized level. A halving not made yet is made here, and only
   * around the warp's footprint when that is less than half of it: a close face's crop at 2-4
   * image pixels per output pixel had the whole frame halved for a few thousand pixels of it (a
   * 720p halving is 2.0 ms of JavaScript).
   */
  warp(m: Affine, outWidth: number, outHeight: number, out: Float32Array, offset = 0, clip?: Rect): void {
    const scale = affineScale(m);
    // The image's own halvings first, by their size alone (k halvings floor the size to w / 2^k);
    // a resized level's halving wins when it is coarser.
    let k = 0;
    while (scale / 2 ** (k + 1) >= 1 && Math.floor(Math.min(this.width, this.height) / 2 ** k) >= 4) k++;
    let source: Source = { base: { factor: 1, image: this.image }, halvings: k };
    for (const base of this.resized) {
      if (base.factor > scale) continue;
      const minSide = Math.min(base.image.width, base.image.height);
      let h = 0;
      while (base.factor * 2 ** (h + 1) <= scale && Math.floor(minSide / 2 ** h) >= 8) h++;
      if (base.factor * 2 ** h > factorOf(source)) source = { base, halvings: h };
    }
    const f = factorOf(source);
    const mk: Affine = [m[0] / f, m[1] / f, m[2] / f, m[3] / f, m[4] / f, m[5] / f];
    const ck = clip && { x: clip.x / f, y: clip.y / f, width: clip.width / f, height: clip.height / f };
    warpAffine(this.levelFor(source, mk, outWidth, outHeight), mk, outWidth, outHeight, out, offset, ck);
  }

  /**
   * The level `source` names, or the part of it that a warp by `m` reads when that is enough,
   * halved from the coarsest level of its chain already made.
   */
  private levelFor(source: Source, m: Affine, outWidth: number, outHeight: number): RgbImage | ImageWindow {
    const { base, halvings } = source;
    const isImage = base.image === this.image;
    const made = (h: number): RgbImage | undefined =>
      isImage ? this.halvings[h] : this.resizedAt(base.factor * 2 ** h)?.image;
    let done = halvings;
    let from = made(done);
    while (!from) from = made(--done); // done = 0 is `base` itself
    if (done === halvings) return from;
    const rest = halvings - done;
    const levelWidth = Math.floor(from.width / 2 ** rest);
    const levelHeight = Math.floor(from.height / 2 ** rest);
    const part = footprint(m, outWidth, outHeight, levelWidth, levelHeight);
    if (2 * part.width * part.height < levelWidth * levelHeight) return halvedWindow(from, rest, part);
    if (isImage) return this.level(halvings);
    let l = base;
    for (let h = 0; h < halvings; h++) l = this.halveResized(l);
    return l.image;
  }
}

/** A level of a pyramid, named by the level it halves and how many times. */
type Source = { base: Level; halvings: number };

const factorOf = ({ base, halvings }: Source): number => base.factor * 2 ** halvings;

/** A part of a larger image, placed at (x, y) in it; it reads as 0 outside, as the image does. */
export type ImageWindow = RgbImage & { x: number; y: number };

/**
 * The pixels of a `width` x `height` image that warpAffine reads for an output of outWidth x
 * outHeight through `m` (every sample lies in the map of the output rectangle, and bilinear
 * sampling reads the pixel after it), with a margin.
 */
function footprint(m: Affine, outWidth: number, outHeight: number, width: number, height: number): Rect {
  const xs = [0, m[0] * outWidth, m[1] * outHeight, m[0] * outWidth + m[1] * outHeight].map((v) => v + m[2]);
  const ys = [0, m[3] * outWidth, m[4] * outHeight, m[3] * outWidth + m[4] * outHeight].map((v) => v + m[5]);
  const x = Math.max(0, Math.floor(Math.min(...xs)) - 2);
  const y = Math.max(0, Math.floor(Math.min(...ys)) - 2);
  const x1 = Math.min(width, Math.floor(Math.max(...xs)) + 3);
  const y1 = Math.min(height, Math.floor(Math.max(...ys)) + 3);
  return { x, y, width: Math.max(0, x1 - x), height: Math.max(0, y1 - y) };
}

/**
 * `part` of `image` halved `halvings` times: the pixels that the whole halving has there, since
 * each halving averages 2x2 blocks aligned to even coordinates.
 */
function halvedWindow(image: RgbImage, halvings: number, part: Rect): ImageWindow {
  const k = 2 ** halvings;
  const width = part.width * k;
  const height = part.height * k;
  const data = new Uint8Array(width * height * 3);
  const row = image.width * 3;
  for (let y = 0; y < height; y++) {
    const from = (part.y * k + y) * row + part.x * k * 3;
    data.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  let window: RgbImage = { width, height, data };
  for (let h = 0; h < halvings; h++) window = halve(window);
  return { ...window, x: part.x, y: part.y };
}

/** 2^k image pixels per level pixel, k >= 0: one of the image's own halvings. */
function isHalvingFactor(factor: number): boolean {
  return factor >= 1 && Number.isInteger(Math.log2(factor));
}

/**
 * Samples `src` at m(x, y) for every output pixel and writes float RGB (0..255) into `out`
 * (NHWC, at `offset`). Source pixels outside the image (a window's part of it), or outside `clip`
 * when given, read as 0.
 * When the map shrinks by more than 1.5x, each output pixel averages a grid of samples so that
 * downscaling does not alias (dlib uses an image pyramid for the same reason).
 */
export function warpAffine(
  src: RgbImage | ImageWindow,
  m: Affine,
  outWidth: number,
  outHeight: number,
  out: Float32Array,
  offset = 0,
  clip?: Rect,
): void {
  const { width, height, data } = src;
  // A window reads its pixels at its place in the image, and nothing outside it.
  const left = 'x' in src ? src.x : 0;
  const top = 'y' in src ? src.y : 0;
  const x0 = clip ? Math.max(left, clip.x) : left;
  const y0 = clip ? Math.max(top, clip.y) : top;
  const x1 = clip ? Math.min(left + width, clip.x + clip.width) : left + width;
  const y1 = clip ? Math.min(top + height, clip.y + clip.height) : top + height;
  const n = Math.min(4, Math.max(1, Math.round(affineScale(m))));
  const samples = n * n;
  const weight = 1 / samples;
  const [a, b, c, d, e, f] = m;
  const stride = width * 3;
  const origin = top * stride + left * 3;
  // Where each sample of a row's first pixel falls in the source (pixel-centre indices); the
  // pixel x's samples lie a * x, d * x further on. Computing them once per row, not per sample,
  // took a 150x150 chip from 0.57 to 0.42 ms.
  const rowStart = new Float64Array(2 * samples);
  let o = offset;
  for (let y = 0; y < outHeight; y++) {
    for (let k = 0; k < samples; k++) {
      const ox = ((k % n) + 0.5) / n;
      const oy = y + (Math.floor(k / n) + 0.5) / n;
      rowStart[2 * k] = a * ox + b * oy + c - 0.5;
      rowStart[2 * k + 1] = d * ox + e * oy + f - 0.5;
    }
    for (let x = 0; x < outWidth; x++) {
      let r = 0;
      let g = 0;
      let bl = 0;
      for (let k = 0; k < samples; k++) {
        const fx = rowStart[2 * k]! + a * x;
        const fy = rowStart[2 * k + 1]! + d * x;
        // Truncation is floor for the non-negative positions of the common case, and gives an
        // integer index where Math.floor gives a float (a 150x150 chip 0.41 -> 0.39 ms).
        const ix = fx >= 0 ? fx | 0 : Math.floor(fx);
        const iy = fy >= 0 ? fy | 0 : Math.floor(fy);
        const tx = fx - ix;
        const ty = fy - iy;
        if (ix >= x0 && iy >= y0 && ix + 1 < x1 && iy + 1 < y1) {
          // All four neighbours inside: the common case, interpolated along x then y.
          const p = iy * stride + ix * 3 - origin;
          const q = p + stride;
          const r0 = data[p]! + tx * (data[p + 3]! - data[p]!);
          const g0 = data[p + 1]! + tx * (data[p + 4]! - data[p + 1]!);
          const b0 = data[p + 2]! + tx * (data[p + 5]! - data[p + 2]!);
          r += r0 + ty * (data[q]! + tx * (data[q + 3]! - data[q]!) - r0);
          g += g0 + ty * (data[q + 1]! + tx * (data[q + 4]! - data[q + 1]!) - g0);
          bl += b0 + ty * (data[q + 2]! + tx * (data[q + 5]! - data[q + 2]!) - b0);
          continue;
        }
        for (let j = 0; j < 4; j++) {
          const px = ix + (j & 1);
          const py = iy + (j >> 1);
          if (px < x0 || px >= x1 || py < y0 || py >= y1) continue;
          const w = (j & 1 ? tx : 1 - tx) * (j >> 1 ? ty : 1 - ty);
          const p = py * stride + px * 3 - origin;
          r += w * data[p]!;
          g += w * data[p + 1]!;
          bl += w * data[p + 2]!;
        }
      }
      out[o++] = r * weight;
      out[o++] = g * weight;
      out[o++] = bl * weight;
    }
  }
}

/**
 * Least-squares similarity transform (rotation, uniform scale, translation) taking points
 * `from` onto points `to` (Umeyama's method without reflection). Returned as an Affine.
 */
export function fitSimilarity(from: readonly [number, number][], to: readonly [number, number][]): Affine {
  if (from.length !== to.length || from.length < 2)
    throw new Error('fitSimilarity needs matching point lists');
  const n = from.length;
  let fx = 0;
  let fy = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i]![0];
    fy += from[i]![1];
    tx += to[i]![0];
    ty += to[i]![1];
  }
  fx /= n;
  fy /= n;
  tx /= n;
  ty /= n;
  // For a 2-D similarity, the optimal [a -b; b a] has a closed form.
  let sxx = 0;
  let sxy = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i]![0] - fx;
    const py = from[i]![1] - fy;
    const qx = to[i]![0] - tx;
    const qy = to[i]![1] - ty;
    sxx += px * qx + py * qy;
    sxy += px * qy - py * qx;
    norm += px * px + py * py;
  }
  const a = sxx / norm;
  const b = sxy / norm;
  return [a, -b, tx - a * fx + b * fy, b, a, ty - b * fx - a * fy];
}

/** Applies an Affine to a point. */
export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}
