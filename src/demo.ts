// The demo camera for `make run` on a fresh machine: with no camera configured, facegate plays a
// looping clip made from the sample photos that @vladmandic/face-api ships (one person, then
// nobody, then a group of strangers) and enrolls that one person from the same sample, so match
// and unknown events appear in the log (and on the broker, if one is configured).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { CameraEntry, Config } from './config/schema.js';
import { FacegateError } from './errors.js';
import { enrollPerson } from './gallery/enroll.js';
import { GalleryStore } from './gallery/store.js';
import type { FaceEngine } from './inference/faces.js';

const DEMO_PERSON = { id: 'demo-person', name: 'Demo Person' };

function samplePhoto(name: string): string {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve('@vladmandic/face-api/package.json'));
  } catch {
    // A production install (make install) leaves development packages out: no demo there.
    throw new FacegateError(
      'CONFIG_INVALID',
      'no camera configured (cameras), and the demo camera needs @vladmandic/face-api, a development package this installation does not have: configure a camera',
    );
  }
  return join(root, 'demo', name);
}

/** Builds the clip (once) and enrolls the demo person (once); returns the demo camera. */
export async function prepareDemo(config: Config, engine: FaceEngine): Promise<CameraEntry> {
  const dir = join(config.stateDir, 'demo');
  mkdirSync(dir, { recursive: true });
  const clip = join(dir, 'demo.mp4');
  const person = await sharp(readFileSync(samplePhoto('sample6.jpg')))
    .extract({ left: 1339, top: 236, width: 487, height: 444 })
    .png()
    .toBuffer();
  if (!existsSync(clip)) {
    writeFileSync(join(dir, 'person.png'), person);
    const fit =
      'scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25,format=yuv420p';
    execFileSync('ffmpeg', [
      ...['-y', '-loglevel', 'error'],
      ...['-loop', '1', '-t', '6', '-i', join(dir, 'person.png')],
      ...['-f', 'lavfi', '-t', '3', '-i', 'color=c=gray:s=1280x720:r=25'],
      ...['-loop', '1', '-t', '6', '-i', samplePhoto('sample1.jpg')],
      ...[
        '-filter_complex',
        `[0:v]${fit}[a];[1:v]format=yuv420p,setsar=1[n];[2:v]${fit}[b];[a][n][b]concat=n=3:v=1:a=0[v]`,
      ],
      ...['-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', clip],
    ]);
  }
  const store = new GalleryStore(join(config.stateDir, 'gallery.sqlite'));
  try {
    if (!store.getPerson(DEMO_PERSON.id)) {
      await enrollPerson(
        engine,
        store,
        DEMO_PERSON,
        [{ bytes: person, source: 'face-api demo/sample6.jpg' }],
        {
          threshold: config.match.threshold,
          gates: config.quality,
          similarFaceRatio: config.enrollment.similarFaceRatio,
          force: true,
        },
      );
    }
  } finally {
    store.close();
  }
  return { name: 'demo', url: clip, fps: 5, width: 1280, height: 720 };
}
