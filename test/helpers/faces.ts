// Single-face photos cut from the sample photos in @vladmandic/face-api (there on every machine).
import { readFileSync } from 'node:fs';
import sharp, { type Sharp } from 'sharp';
import { samplePhoto, sharedFace } from './fixtures.js';

/** Three frontal faces of sample6.jpg (boxes from facegate embed --all-faces), 25% margin. */
const SAMPLE6_FACES = [
  { left: 1339, top: 236, width: 487, height: 444 },
  { left: 174, top: 492, width: 387, height: 339 },
  { left: 607, top: 352, width: 315, height: 342 },
];

/** A photo of one person, good enough to enroll. */
export async function faceCrop(i: 0 | 1 | 2): Promise<Buffer> {
  return sharp(samplePhoto('sample6.jpg')).extract(SAMPLE6_FACES[i]!).png().toBuffer();
}

const KNN = 'face_recognition/examples/knn_examples/train';

/**
 * The end-to-end tests' people: A enrolled from one photo and shown in the clip in another, B
 * never enrolled. From ../shared/faces (`haveShared`), else face-api's sample faces (A's other
 * photo is then its mirror image).
 */
export async function doorPeople(
  haveShared: boolean,
): Promise<{ enrollA: Buffer; shownA: Buffer; shownB: Buffer }> {
  if (haveShared)
    return {
      enrollA: readFileSync(sharedFace(`${KNN}/obama/obama.jpg`)),
      shownA: readFileSync(sharedFace(`${KNN}/obama/obama2.jpg`)),
      shownB: readFileSync(sharedFace(`${KNN}/biden/biden.jpg`)),
    };
  return {
    enrollA: await faceCrop(0),
    shownA: await sharp(await faceCrop(0))
      .flop()
      .toBuffer(),
    shownB: await faceCrop(1),
  };
}

/** `face` resized to `faceWidth` pixels wide on a grey canvas, its top-left corner at `at`: a photo or frame to encode. */
export async function faceOnGrey(
  face: Buffer,
  canvas: { width: number; height: number },
  faceWidth: number,
  at: { left: number; top: number },
): Promise<Sharp> {
  return sharp({ create: { ...canvas, channels: 3, background: '#808080' } }).composite([
    { input: await sharp(face).resize(faceWidth).toBuffer(), ...at },
  ]);
}
