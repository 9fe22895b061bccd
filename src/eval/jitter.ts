// A photo as a camera would deliver it over a few frames of one pass: each frame shifted,
// scaled and turned a little, blurred, noisy and JPEG-compressed, with seeded randomness so an
// evaluation repeats exactly. Tracks made of one photo this way are the pessimistic bound for
// track fusion (nothing about the person changes between frames, only the camera's noise);
// several photos of one person are the optimistic bound (facegate eval --passes).
import sharp from '../vision/libvips.js';
import type { RgbImage } from '../vision/image.js';
import { gaussian, seededRandom } from '../training/random.js';

/** How far each frame may stray from the photo. */
export const JITTER = {
  shiftFraction: 0.04,
  scale: [0.9, 1.1],
  rotateDegrees: 5,
  blurSigma: [0.3, 1.2],
  noiseLevels: 6,
  jpegQuality: [55, 90],
} as const;

export async function jitteredFrames(image: RgbImage, count: number, seed: number): Promise<RgbImage[]> {
  const random = seededRandom(seed);
  const between = ([lo, hi]: readonly [number, number]) => lo + (hi - lo) * random();
  const frames: RgbImage[] = [];
  for (let i = 0; i < count; i++) {
    const { width, height } = image;
    const scale = between(JITTER.scale);
    const angle = (2 * random() - 1) * JITTER.rotateDegrees;
    const scaled = { width: Math.round(width * scale), height: Math.round(height * scale) };
    const turned = await sharp(image.data, { raw: { width, height, channels: 3 } })
      .resize(scaled.width, scaled.height)
      .rotate(angle, { background: '#000000' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Back to the photo's size, the face shifted within it.
    const dx = Math.round((2 * random() - 1) * JITTER.shiftFraction * width);
    const dy = Math.round((2 * random() - 1) * JITTER.shiftFraction * height);
    const left = Math.round((turned.info.width - width) / 2) + dx;
    const top = Math.round((turned.info.height - height) / 2) + dy;
    const framed = shifted(turned.data, turned.info.width, turned.info.height, width, height, left, top);
    const noise = random() * JITTER.noiseLevels;
    for (let k = 0; k < framed.length; k++)
      framed[k] = Math.max(0, Math.min(255, Math.round(framed[k]! + noise * gaussian(random))));
    const jpeg = await sharp(framed, { raw: { width, height, channels: 3 } })
      .blur(between(JITTER.blurSigma))
      .jpeg({ quality: Math.round(between(JITTER.jpegQuality)) })
      .toBuffer();
    const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    frames.push({ width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) });
  }
  return frames;
}

/** The width x height window at (left, top) of an RGB image, black where it falls outside. */
function shifted(
  src: Buffer,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  left: number,
  top: number,
): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= srcHeight) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(width, srcWidth - left);
    if (x1 <= x0) continue;
    out.set(
      src.subarray((sy * srcWidth + x0 + left) * 3, (sy * srcWidth + x1 + left) * 3),
      (y * width + x0) * 3,
    );
  }
  return out;
}
