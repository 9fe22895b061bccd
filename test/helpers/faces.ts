// Single-face photos cut from the sample photos in @vladmandic/face-api (there on every machine).
import sharp from 'sharp';
import { samplePhoto } from './fixtures.js';

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
