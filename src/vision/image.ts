// Decoding still images (enrollment photos, command-line input) into packed RGB. sharp/libvips
// reads JPEG, PNG, WebP, TIFF, AVIF and GIF; EXIF orientation is applied so a phone photo taken
// sideways is upright before detection; grayscale and alpha are normalised to 3-channel RGB.
import sharp from './libvips.js';
import { FacegateError } from '../errors.js';

/** Packed 8-bit RGB, row-major, no padding between rows. */
export type RgbImage = { width: number; height: number; data: Uint8Array };

/** A limit well above a 108 MP phone sensor, well below what would exhaust a gateway's memory. */
export const DEFAULT_MAX_PIXELS = 120_000_000;

/**
 * Photos larger than this on their longer side are decoded shrunk to it. Faces lose nothing that
 * is used: the detector sees at most 1920 pixels of the side (detector.maxInputSide), and a face
 * is cut to the encoder's chip (112 or 150 pixels), so only a face narrower than about 300 pixels
 * in a 10,900-pixel photo (shrunk 2.7 times) gets a chip from fewer pixels than before. What is
 * saved: the decoded RGB of the largest allowed photo was 340 MB, now at most 48 MB (4096 x 4096
 * x 3), and libvips streams the rest (JPEG shrinks while decoding, PNG row by row).
 */
export const MAX_DECODED_SIDE = 4096;

/** A decoded photo, and how many of the file's pixels each of its pixels spans (1: full size). */
export type DecodedImage = RgbImage & { scale: number };

export async function decodeImage(
  input: string | Buffer,
  opts: { maxPixels?: number } = {},
): Promise<DecodedImage> {
  const name = typeof input === 'string' ? input : 'image buffer';
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const open = () => sharp(input, { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true });
  try {
    const meta = await open().metadata();
    // EXIF orientations 5 to 8 turn the picture a quarter: its width is the file's height.
    const uprightWidth = (meta.orientation ?? 1) >= 5 ? meta.height : meta.width;
    const { data, info } = await open()
      .rotate() // EXIF orientation
      .resize({ width: MAX_DECODED_SIDE, height: MAX_DECODED_SIDE, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#000000' }) // alpha onto black: no undefined colours under transparency
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      scale: uprightWidth ? uprightWidth / info.width : 1,
    };
  } catch (err) {
    const reason = describeDecodeError(err);
    const code = /pixel limit/i.test(reason) ? 'IMAGE_TOO_LARGE' : 'IMAGE_UNREADABLE';
    throw new FacegateError(code, `${name}: ${reason}`, { cause: err });
  }
}

function describeDecodeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT' || /input file is missing/i.test(e.message ?? '')) return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  const msg = e.message ?? String(err);
  if (/unsupported image format/i.test(msg)) return 'not an image (unsupported or unknown format)';
  if (/input (buffer|file) is empty/i.test(msg)) return 'not an image (empty)';
  if (/pixel limit/i.test(msg)) return `image exceeds the pixel limit (${msg})`;
  if (/premature end|truncated|corrupt|invalid|VipsJpeg|not a known|bad/i.test(msg))
    return `corrupt or truncated image (${msg.split('\n')[0]})`;
  return msg.split('\n')[0] ?? msg;
}

/**
 * The image as a monochrome camera (or one at night, in infrared) sees it: Rec. 601 luma in all
 * three channels, so the same models run on it.
 */
export function toGrayscale(image: RgbImage): RgbImage {
  const data = new Uint8Array(image.data.length);
  for (let i = 0; i < data.length; i += 3) {
    const y = Math.round(0.299 * image.data[i]! + 0.587 * image.data[i + 1]! + 0.114 * image.data[i + 2]!);
    data[i] = data[i + 1] = data[i + 2] = y;
  }
  return { width: image.width, height: image.height, data };
}
