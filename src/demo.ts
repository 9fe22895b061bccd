// The demo camera for `make run` on a fresh machine: with no camera configured, facegate plays a
// looping clip made from the sample photos that @vladmandic/face-api ships and enrolls one person
// from the same sample. The clip shows that person as a head turning a little (drawn from the
// photo: eval/presentation-clips.ts), then nobody, then the same person's photo held still, then
// nobody, then a group of strangers; so match, spoof and unknown events appear in the log (and on
// the broker, if one is configured).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from './vision/libvips.js';
import type { CameraEntry } from './camera/camera-config.js';
import type { Config } from './config/schema.js';
import { FacegateError } from './errors.js';
import { enrollmentPolicy, enrollPerson } from './gallery/enroll.js';
import type { GalleryStore } from './gallery/store.js';
import type { FaceEngine } from './inference/faces.js';
import { presentationClip } from './eval/presentation-clips.js';
import { decodeImage } from './vision/image.js';

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

/**
 * One scene of a clip: a photo fitted into the 1280x720 frame (or `height` px tall), or nobody;
 * `sway`: the photo moves side to side by up to this many pixels. Or a sequence of frames
 * (`frames`: an ffmpeg image pattern such as dir/%03d.png, at `fps`), fitted into the frame: a
 * person moving as a head does (eval/presentation-clips.ts), for liveness.
 */
export type Scene =
  | { photo: string | null; seconds: number; height?: number; sway?: number }
  | { frames: string; fps: number; seconds: number };

/**
 * A 720p H.264 clip of still scenes at 25 fps, one after another (an empty scene is a gray
 * frame): what the demo camera, the end-to-end test and the daemon bench play as a camera.
 * `noise`: a camera sensor's grain, ffmpeg's noise filter at this strength (about +-noise grey
 * levels, new every frame; none by default).
 */
export function writeSceneClip(
  out: string,
  scenes: readonly Scene[],
  opts: { pad?: string; bitrate?: string; noise?: number } = {},
): void {
  const grain = opts.noise ? `,noise=alls=${opts.noise}:allf=t` : '';
  const inputs: string[] = [];
  const filters = scenes.map((scene, i) => {
    if ('frames' in scene) {
      inputs.push('-framerate', String(scene.fps), '-t', String(scene.seconds), '-i', scene.frames);
      return (
        `[${i}:v]scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,` +
        `fps=25,format=yuv420p,setsar=1${grain}[s${i}]`
      );
    }
    if (!scene.photo) {
      inputs.push('-f', 'lavfi', '-t', String(scene.seconds), '-i', 'color=c=gray:s=1280x720:r=25');
      return `[${i}:v]format=yuv420p,setsar=1${grain}[s${i}]`;
    }
    inputs.push('-loop', '1', '-t', String(scene.seconds), '-i', scene.photo);
    const scale = scene.height
      ? `scale=-2:${scene.height}`
      : 'scale=1280:720:force_original_aspect_ratio=decrease';
    const size = `s=1280x720:r=25:d=${scene.seconds}`;
    // Swaying: the photo moves side to side as a person's head does, once every 2 s.
    const x = scene.sway ? `(W-w)/2+${scene.sway}*sin(PI*t)` : '(W-w)/2';
    return (
      `color=c=${opts.pad ?? 'black'}:${size}[bg${i}];[${i}:v]${scale},setsar=1[p${i}];` +
      `[bg${i}][p${i}]overlay=x='${x}':y=(H-h)/2:eval=frame:shortest=1,format=yuv420p${grain}[s${i}]`
    );
  });
  const concat = `${scenes.map((_, i) => `[s${i}]`).join('')}concat=n=${scenes.length}:v=1:a=0[v]`;
  execFileSync('ffmpeg', [
    ...['-y', '-loglevel', 'error', ...inputs],
    ...['-filter_complex', `${filters.join(';')};${concat}`, '-map', '[v]'],
    // Baseline profile with a key frame every second: what the RTSP payloader streams cleanly.
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-profile:v', 'baseline'],
    ...(opts.bitrate ? ['-b:v', opts.bitrate] : []),
    out,
  ]);
}

/**
 * The face in `photo` drawn as a head turning a little (eval/presentation-clips.ts), 8 s at
 * 10 fps, as PNG files in `dir`: a scene of a clip.
 */
export async function headFrames(engine: FaceEngine, photo: Buffer, dir: string, seed = 6): Promise<Scene> {
  const image = await decodeImage(photo);
  const [face] = await engine.analyze(image, { select: 'largest', mirror: false });
  if (!face)
    throw new FacegateError(
      'NO_FACE',
      'the demo photo (@vladmandic/face-api demo/sample6.jpg) shows no face',
    );
  const fps = 10;
  const { frames } = await presentationClip(image, face.landmarks, 'genuine', {
    frames: 80,
    fps,
    seed,
    width: 640,
    height: 480,
    eyeDistance: 64,
  });
  mkdirSync(dir, { recursive: true });
  for (const [i, f] of frames.entries())
    await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
      .png()
      .toFile(join(dir, `${String(i).padStart(3, '0')}.png`));
  return { frames: join(dir, '%03d.png'), fps, seconds: frames.length / fps };
}

/**
 * Builds the clip (once) and enrolls the demo person in `store` (once); returns the demo camera.
 * Later starts find both done and decode nothing.
 */
export async function prepareDemo(
  config: Config,
  engine: FaceEngine,
  store: GalleryStore,
): Promise<CameraEntry> {
  const dir = join(config.stateDir, 'demo');
  mkdirSync(dir, { recursive: true });
  // Named anew when what it shows changed: a clip from an older version is not played.
  const clip = join(dir, 'demo-head.mp4');
  // Cut at most once: a first start needs it for both the clip and the enrollment.
  let cut: Promise<Buffer> | undefined;
  const person = () =>
    (cut ??= sharp(readFileSync(samplePhoto('sample6.jpg')))
      .extract({ left: 1339, top: 236, width: 487, height: 444 })
      .png()
      .toBuffer());
  if (!existsSync(clip)) {
    writeFileSync(join(dir, 'person.png'), await person());
    const head = await headFrames(engine, await person(), join(dir, 'head'));
    writeSceneClip(clip, [
      head,
      { photo: null, seconds: 3 },
      // The photo held up to the camera: liveness.mode 'require' (the default) calls it a spoof.
      { photo: join(dir, 'person.png'), seconds: 7 },
      { photo: null, seconds: 2 },
      { photo: samplePhoto('sample1.jpg'), seconds: 6 },
    ]);
  }
  if (!store.getPerson(DEMO_PERSON.id)) {
    await enrollPerson(
      engine,
      store,
      DEMO_PERSON,
      [{ bytes: await person(), source: 'face-api demo/sample6.jpg' }],
      enrollmentPolicy(config, { force: true }),
    );
  }
  return { name: 'demo', url: clip, fps: 5, width: 1280, height: 720 };
}
