// Liveness cues (src/recognition/liveness.ts) on the landmarks our own network finds in attack
// frames made from photos, seeded: how far its noise goes where the cues assume none. Two attack
// types of issue 21 so far, each photo as a track of 12 frames, every frame with codec-like noise
// (+-1.5 grey levels, then JPEG at quality 75-85):
//   A1: the photo held still;
//   A2: the photo moved by hand (each frame turned, scaled, squeezed sideways as a tilt does, and
//       shifted at random: affine, a special case of the homography a plane gives).
// The photos: one of each of 30 lfw-dev identities (every third; ../shared/faces), else the
// face-api sample photos. Genuine clips (a head in 3D) are not built yet: see bench/RESULTS.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readManifestTsv } from '../src/eval/datasets.js';
import { FaceEngine } from '../src/inference/faces.js';
import { livenessCues, type LivenessCues } from '../src/recognition/liveness.js';
import { gaussian, seededRandom, type Random } from '../src/training/random.js';
import { decodeImage, type RgbImage } from '../src/vision/image.js';
import { samplePhoto, SHARED_FACES, sharedFacesAvailable } from '../test/helpers/fixtures.js';
import { Table } from './harness.js';

const FRAMES = 12;

function photos(): Buffer[] {
  if (!sharedFacesAvailable('bench/liveness-cues.ts')) {
    return ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'].map(
      (n) => readFileSync(samplePhoto(n)),
    );
  }
  const seen = new Set<string>();
  const files: string[] = [];
  for (const { path, identity } of readManifestTsv(join(SHARED_FACES, 'MANIFEST.tsv'), 'lfw-dev/')) {
    if (seen.has(identity) || seen.size >= 30) continue;
    seen.add(identity);
    if (seen.size % 3 === 0) files.push(path);
  }
  return files.map((f) => readFileSync(join(SHARED_FACES, f)));
}

async function attackFrame(photo: Buffer, kind: 'A1' | 'A2', i: number, random: Random): Promise<RgbImage> {
  let image = sharp(photo);
  if (kind === 'A2') {
    const turn = (gaussian(random) * 6 * Math.PI) / 180;
    const scale = 1 + 0.08 * gaussian(random);
    const squeeze = 1 - Math.abs(0.12 * gaussian(random));
    image = image.affine(
      [
        scale * squeeze * Math.cos(turn),
        -scale * Math.sin(turn),
        scale * squeeze * Math.sin(turn),
        scale * Math.cos(turn),
      ],
      { background: '#000', idx: 20 * gaussian(random), idy: 20 * gaussian(random) },
    );
  }
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let k = 0; k < data.length; k++)
    data[k] = Math.max(0, Math.min(255, data[k]! + Math.round(1.5 * gaussian(random))));
  const jpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .jpeg({ quality: 75 + (i % 3) * 5 })
    .toBuffer();
  return decodeImage(jpeg);
}

export async function benchLivenessCues(): Promise<string> {
  const engine = await FaceEngine.open();
  const random = seededRandom(1);
  const table = new Table(['attack', 'tracks', 'cue', 'min', 'median', '90th percentile', 'max']);
  try {
    for (const kind of ['A1', 'A2'] as const) {
      const cues: LivenessCues[] = [];
      for (const photo of photos()) {
        const frames = [];
        for (let i = 0; i < FRAMES; i++) {
          const [face] = await engine.analyze(await attackFrame(photo, kind, i, random), {
            select: 'central',
            mirror: false,
          });
          if (face) frames.push(face.landmarks);
        }
        cues.push(livenessCues(frames));
      }
      for (const cue of ['motion', 'parallax'] as const) {
        const v = cues.map((c) => c[cue]).sort((a, b) => a - b);
        const at = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))]!.toFixed(4);
        table.add(kind, String(cues.length), cue, at(0), at(0.5), at(0.9), at(1));
      }
      const blinked = String(cues.filter((c) => c.blinks > 0).length);
      table.add(kind, String(cues.length), 'tracks with a blink', blinked, '', '', '');
    }
  } finally {
    await engine.release();
  }
  return table.toString();
}

if (process.argv[1] === import.meta.filename) console.log(await benchLivenessCues());
