// Decoding: the formats and colour layouts a user's photos come in, EXIF orientation, and the
// broken files that must give a clear error rather than a crash.
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, MAX_DECODED_SIDE } from '../../src/vision/image.js';
import { samplePhoto } from '../helpers/fixtures.js';

let dir: string;
const at = (name: string) => join(dir, name);
// A small gradient so that channel order and orientation are visible in the pixels.
const W = 40;
const H = 30;
const rgb = Buffer.alloc(W * H * 3);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) rgb.set([x * 6, y * 8, 200], (y * W + x) * 3);
const raw = { raw: { width: W, height: H, channels: 3 as const } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-image-'));
  await sharp(rgb, raw).png().toFile(at('rgb.png'));
  await sharp(rgb, raw).jpeg({ quality: 95 }).toFile(at('rgb.jpg'));
  await sharp(rgb, raw).webp({ lossless: true }).toFile(at('rgb.webp'));
  await sharp(rgb, raw).grayscale().png().toFile(at('gray.png'));
  await sharp(rgb, raw).ensureAlpha(0.5).png().toFile(at('rgba.png'));
  // Pixels stored rotated 90 degrees anticlockwise, with EXIF orientation 6 saying "rotate clockwise to view".
  await sharp(rgb, raw)
    .rotate(-90)
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 95 })
    .toFile(at('exif6.jpg'));
  const jpeg = readFileSync(samplePhoto('sample2.jpg'));
  writeFileSync(at('truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
  writeFileSync(at('empty.jpg'), Buffer.alloc(0));
  writeFileSync(at('text.jpg'), 'this is not a JPEG\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('decodeImage', () => {
  it.each(['rgb.png', 'rgb.jpg', 'rgb.webp'])('decodes %s to packed RGB', async (name) => {
    const img = await decodeImage(at(name));
    expect([img.width, img.height, img.data.length]).toEqual([W, H, W * H * 3]);
    const p = (10 * W + 20) * 3; // pixel (20, 10): (120, 80, 200)
    expect(Math.abs(img.data[p]! - 120)).toBeLessThanOrEqual(4);
    expect(Math.abs(img.data[p + 1]! - 80)).toBeLessThanOrEqual(4);
    expect(Math.abs(img.data[p + 2]! - 200)).toBeLessThanOrEqual(4);
  });

  it('expands grayscale to three equal channels', async () => {
    const img = await decodeImage(at('gray.png'));
    expect(img.data.length).toBe(W * H * 3);
    expect(img.data[30]).toBe(img.data[31]);
    expect(img.data[31]).toBe(img.data[32]);
  });

  it('drops alpha after flattening onto black', async () => {
    const img = await decodeImage(at('rgba.png'));
    expect(img.data.length).toBe(W * H * 3);
    expect(img.data[2]).toBeLessThan(120); // 200 at half opacity over black
  });

  it('applies EXIF orientation', async () => {
    const img = await decodeImage(at('exif6.jpg'));
    expect([img.width, img.height]).toEqual([W, H]);
    const p = (10 * W + 20) * 3;
    expect(Math.abs(img.data[p]! - 120)).toBeLessThanOrEqual(6);
    expect(Math.abs(img.data[p + 1]! - 80)).toBeLessThanOrEqual(6);
  });

  it.each([
    ['truncated.jpg', /truncated\.jpg: corrupt or truncated image/],
    ['empty.jpg', /empty\.jpg: not an image/],
    ['text.jpg', /text\.jpg: not an image/],
    ['missing.jpg', /missing\.jpg: no such file/],
  ])('gives a clear error for %s', async (name, message) => {
    await expect(decodeImage(at(name))).rejects.toMatchObject({
      code: 'IMAGE_UNREADABLE',
      message: expect.stringMatching(message),
    });
  });

  it('decodes a photo longer than MAX_DECODED_SIDE shrunk to it, saying by how much, EXIF orientation included', async () => {
    // A white mark at (4500..4600, 1000..1100) of a 6000x2000 picture.
    const mark = {
      input: { create: { width: 100, height: 100, channels: 3 as const, background: '#ffffff' } },
    };
    const wide = sharp({ create: { width: 6000, height: 2000, channels: 3, background: '#000000' } });
    await wide
      .composite([{ ...mark, left: 4500, top: 1000 }])
      .png()
      .toFile(at('wide.png'));
    const img = await decodeImage(at('wide.png'));
    expect([img.width, img.height]).toEqual([MAX_DECODED_SIDE, 1365]);
    expect(img.scale).toBeCloseTo(6000 / MAX_DECODED_SIDE, 6);
    const at4550 = Math.round(4550 / img.scale);
    const at1050 = Math.round(1050 / img.scale);
    expect(img.data[(at1050 * img.width + at4550) * 3]).toBeGreaterThan(200);
    expect(img.data[(at1050 * img.width + at4550 - 200) * 3]).toBeLessThan(50);
    // Stored 6000x2000 with orientation 6: upright it is 2000x6000, decoded 1365x4096.
    await sharp(await sharp(at('wide.png')).jpeg().toBuffer())
      .withMetadata({ orientation: 6 })
      .toFile(at('tall.jpg'));
    const tall = await decodeImage(at('tall.jpg'));
    expect([tall.width, tall.height]).toEqual([1365, MAX_DECODED_SIDE]);
    expect(tall.scale).toBeCloseTo(2000 / 1365, 6);
    // A photo within the side is decoded as it is.
    expect((await decodeImage(at('rgb.png'))).scale).toBe(1);
  });

  it('refuses an image above the pixel limit before decoding it', async () => {
    await expect(decodeImage(at('rgb.png'), { maxPixels: 100 })).rejects.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
      message: expect.stringMatching(/rgb\.png: image exceeds the pixel limit/),
    });
  });
});
