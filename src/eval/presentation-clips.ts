// Presentation-attack clips made from one photo, seeded, each attack type on its own (ISO/IEC
// 30107-3 reports per attack type), for measuring liveness (bench/liveness.ts) and for the
// end-to-end test that a photo does not open the door while the person does:
//   - genuine: the photo's face as a head, its landmarks given a depth each (the mean face's
//     shape), turned a few degrees in yaw and pitch as a person at a door does, and blinking at a
//     person's rate (the upper eyelids drawn down onto the lower ones);
//   - A1: the photo held still (a looped still, the attack that was tried);
//   - A2: the photo moved by hand: turned, tilted in perspective, shifted, brought nearer, with
//     motion blur;
//   - A3: the photo on a phone or tablet: a bezel, the screen's gamma and blue cast, its pixel
//     grid (resampled by the camera into moire) and a glare, held still or moved;
//   - A4: the photo printed: halftone dots, a white paper border, a print's lower dynamic range,
//     held still or moved.
// Every frame then gets a camera's noise and JPEG compression. No real recapture is in here: a
// phone filmed by a camera differs in ways this does not model (docs/liveness.md).
import sharp from '../vision/libvips.js';
import type { Point } from '../vision/alignment.js';
import type { RgbImage } from '../vision/image.js';
import { delaunay, drawMesh, projectPose, STILL, type Point3, type Pose } from '../vision/mesh.js';
import { eyeCentres } from '../vision/quality.js';
import { gaussian, seededRandom, type Random } from '../training/random.js';

export const CLIP_KINDS = ['genuine', 'A1', 'A2', 'A3-still', 'A3-moving', 'A4-still', 'A4-moving'] as const;
export type ClipKind = (typeof CLIP_KINDS)[number];

export const CLIP_DESCRIPTIONS: Record<ClipKind, string> = {
  genuine: 'genuine: the face as a head turning a few degrees, blinking at a person rate',
  A1: 'A1 photo held still (looped still)',
  A2: 'A2 photo moved by hand',
  'A3-still': 'A3 phone screen held still',
  'A3-moving': 'A3 phone screen moved',
  'A4-still': 'A4 print held still',
  'A4-moving': 'A4 print moved',
};

export type ClipOptions = {
  frames: number;
  /** Frames per second: how far the head turns and how often it blinks between frames. */
  fps: number;
  seed: number;
  /** The scene's size, pixels. */
  width?: number;
  height?: number;
  /** The eye distance in the scene, pixels. */
  eyeDistance?: number;
};

export type Clip = {
  frames: RgbImage[];
  /** Blinks drawn into the clip (genuine clips only): a clip may well have none, as a person may not blink in a few seconds. */
  blinks: number;
  /** How closed the eyes are in each frame, 0 (open) to 1 (a blink's middle); all 0 in attacks. */
  eyesClosed: number[];
};

/** A person blinks 15-20 times a minute, each blink about a quarter of a second. */
const BLINKS_PER_SECOND = 0.3;
const BLINK_SECONDS = 0.25;

/**
 * Depth of each of the 68 landmarks towards the camera, in eye distances: the mean face's
 * shape (nose tip 0.6 in front of the eyes, the jaw outline well behind them).
 */
export function landmarkDepth(i: number): number {
  if (i <= 16) return -0.6 + 0.25 * Math.sin((Math.PI * i) / 16); // the outline, the chin nearest
  if (i <= 26) return 0.1; // brows
  if (i <= 30) return 0.15 + 0.15 * (i - 27); // nose bridge to tip
  if (i <= 35) return 0.35; // nostrils
  if (i <= 47) return 0; // eyes
  return 0.2; // mouth
}

const rad = Math.PI / 180;

type Geometry = { centre: Point; unit: number; down: Point };

function faceGeometry(landmarks: readonly Point[]): Geometry {
  const [l, r] = eyeCentres(landmarks);
  const unit = Math.hypot(r[0] - l[0], r[1] - l[1]);
  const down: Point = [-(r[1] - l[1]) / unit, (r[0] - l[0]) / unit];
  const centre: Point = [(l[0] + r[0]) / 2 + 0.3 * unit * down[0], (l[1] + r[1]) / 2 + 0.3 * unit * down[1]];
  return { centre, unit, down };
}

/** The scene: a wall with a soft gradient and a little texture, as behind a door. */
function wall(width: number, height: number, random: Random): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const base = [110 + 60 * random(), 105 + 60 * random(), 95 + 60 * random()];
  const slope = [gaussian(random) * 30, gaussian(random) * 30];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++)
        data[(y * width + x) * 3 + c] = Math.max(
          0,
          Math.min(255, base[c]! + (slope[0]! * x) / width + (slope[1]! * y) / height + 4 * gaussian(random)),
        );
  return { width, height, data };
}

/** A picture of `photo` as the attack shows it (screen or print), and where the photo's pixels are in it. */
type Texture = { image: RgbImage; scale: number; offset: number };

function plainTexture(photo: RgbImage): Texture {
  return { image: photo, scale: 1, offset: 0 };
}

/** `photo` at `scale` times its size with a `border`-pixel frame of `frame` colour, each pixel through `ink`. */
function framedTexture(
  photo: RgbImage,
  scale: number,
  border: number,
  frame: [number, number, number],
  ink: (x: number, y: number, rgb: [number, number, number]) => [number, number, number],
): Texture {
  const width = photo.width * scale + 2 * border;
  const height = photo.height * scale + 2 * border;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [px, py] = [Math.floor((x - border) / scale), Math.floor((y - border) / scale)];
      const inside = px >= 0 && py >= 0 && px < photo.width && py < photo.height;
      const p = (py * photo.width + px) * 3;
      const rgb: [number, number, number] = inside
        ? ink(x, y, [photo.data[p]!, photo.data[p + 1]!, photo.data[p + 2]!])
        : frame;
      data.set(
        rgb.map((v) => Math.max(0, Math.min(255, Math.round(v)))),
        (y * width + x) * 3,
      );
    }
  }
  return { image: { width, height, data }, scale, offset: border };
}

/**
 * A phone screen: each photo pixel drawn as 3x3 sub-pixels (red, green, blue columns with dark
 * gaps: the grid the camera resamples into moire), the screen's gamma, blue cast and raised black,
 * a glare, and a black bezel.
 */
function screenTexture(photo: RgbImage, random: Random): Texture {
  const scale = 3;
  const border = Math.round(0.12 * photo.width * scale);
  const [gx, gy] = [random() * photo.width * scale, random() * photo.height * scale];
  const glare = 0.25 * photo.width * scale;
  const strength = 40 + 50 * random();
  return framedTexture(photo, scale, border, [12, 12, 14], (x, y, rgb) => {
    const sub = (x - border) % scale;
    const lit = (y - border) % scale === 2 ? 0.55 : 1; // the dark row between pixel rows
    const g = strength * Math.exp(-((x - gx) ** 2 + (y - gy) ** 2) / (2 * glare * glare));
    const cast = [0.9, 1, 1.12];
    return rgb.map((v, c) => {
      const shown = 18 + 237 * (v / 255) ** 0.85 * cast[c]!;
      return (c === sub ? 1.6 : 0.7) * lit * shown + g;
    }) as [number, number, number];
  });
}

/** Bayer 4x4 ordered dither thresholds, 0..1. */
const BAYER = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5].map((v) => (v + 0.5) / 16);

/** A print: ink dots (ordered dither at twice the photo's resolution), paper white, a narrower range. */
function printTexture(photo: RgbImage): Texture {
  const scale = 2;
  const border = Math.round(0.08 * photo.width * scale);
  return framedTexture(photo, scale, border, [244, 242, 235], (x, y, rgb) => {
    const t = BAYER[(y % 4) * 4 + (x % 4)]!;
    return rgb.map((v, c) => {
      const level = 0.1 + 0.82 * (v / 255); // paper is not 255, ink is not 0
      const paper = [244, 242, 235][c]!;
      return level > t ? paper : 30 + 0.2 * v;
    }) as [number, number, number];
  });
}

/** Smooth motion: each quantity a sine of its own period and phase, amplitude `a`. */
function swing(random: Random, a: number): (t: number) => number {
  const period = 1.5 + 2.5 * random();
  const phase = 2 * Math.PI * random();
  const amplitude = a * (0.4 + 0.6 * random());
  return (t) => amplitude * Math.sin((2 * Math.PI * t) / period + phase);
}

function motion(
  random: Random,
  o: { yaw: number; pitch: number; roll: number; shift: number; scale: number },
) {
  const [yaw, pitch, roll, dx, dy, scale] = [
    swing(random, o.yaw * rad),
    swing(random, o.pitch * rad),
    swing(random, o.roll * rad),
    swing(random, o.shift),
    swing(random, o.shift),
    swing(random, o.scale),
  ];
  return (t: number): Pose => ({
    yaw: yaw(t),
    pitch: pitch(t),
    roll: roll(t),
    dx: dx(t),
    dy: dy(t),
    scale: 1 + scale(t),
  });
}

/** Blink times (seconds) over `seconds`, a Poisson process at a person's rate. */
function blinkTimes(seconds: number, random: Random): number[] {
  const times: number[] = [];
  for (
    let t = -Math.log(1 - random()) / BLINKS_PER_SECOND;
    t < seconds;
    t += -Math.log(1 - random()) / BLINKS_PER_SECOND
  )
    times.push(t);
  return times;
}

/** How closed the eyes are at `t`: 1 at the middle of a blink, 0 outside one. */
function closure(blinks: readonly number[], t: number): number {
  return Math.max(0, ...blinks.map((b) => 1 - Math.abs(t - b) / (BLINK_SECONDS / 2)));
}

/** Upper eyelid landmarks and the lower ones they close onto. */
const EYELIDS: [number, number][] = [
  [37, 41],
  [38, 40],
  [43, 47],
  [44, 46],
];

/** A sensor's noise, +-1.5 grey levels: read from a table at a random offset each frame (drawing it anew costs more than the rest of the frame). */
const NOISE = (() => {
  const random = seededRandom(30107);
  return Int8Array.from({ length: 1 << 20 }, () => Math.round(1.5 * gaussian(random)));
})();

/** Adds a camera's noise and JPEG compression to a frame. */
async function camera(frame: RgbImage, random: Random, i: number): Promise<RgbImage> {
  const data = new Uint8Array(frame.data);
  const offset = Math.floor(random() * NOISE.length);
  const mask = NOISE.length - 1;
  for (let k = 0; k < data.length; k++)
    data[k] = Math.max(0, Math.min(255, data[k]! + NOISE[(offset + k) & mask]!));
  const jpeg = await sharp(data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .jpeg({ quality: 75 + (i % 3) * 5 })
    .toBuffer();
  const decoded = await sharp(jpeg).raw().toBuffer();
  return {
    width: frame.width,
    height: frame.height,
    data: new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.length),
  };
}

/**
 * A clip of `kind` from `photo`, whose face has `landmarks` (68 points, photo pixels). The face
 * sits in the middle of the scene with `eyeDistance` between the eyes.
 */
export async function presentationClip(
  photo: RgbImage,
  landmarks: readonly Point[],
  kind: ClipKind,
  o: ClipOptions,
): Promise<Clip> {
  const random = seededRandom(o.seed);
  const width = o.width ?? 480;
  const height = o.height ?? 360;
  const face = faceGeometry(landmarks);
  const k = (o.eyeDistance ?? 48) / face.unit;
  // Photo pixels -> scene pixels: the face centre to the scene's centre, scaled by k.
  const toScene = ([x, y]: Point): Point => [
    width / 2 + k * (x - face.centre[0]),
    height / 2 + k * (y - face.centre[1]),
  ];
  const fromScene = ([x, y]: Point): Point => [
    face.centre[0] + (x - width / 2) / k,
    face.centre[1] + (y - height / 2) / k,
  ];
  const distance = 8 * face.unit; // a face about 50 cm from the camera
  const background = wall(width, height, random);
  const frames: RgbImage[] = [];

  if (kind === 'genuine') {
    const { mesh, points, fixed } = headMesh(
      landmarks,
      face,
      [
        [0, 0],
        [width, 0],
        [0, height],
        [width, height],
        [width / 2, 0],
        [width / 2, height],
        [0, height / 2],
        [width, height / 2],
      ].map((p) => fromScene(p as Point)),
    );
    const move = motion(random, { yaw: 12, pitch: 6, roll: 3, shift: 0.1 * face.unit, scale: 0.03 });
    const blinks = blinkTimes(o.frames / o.fps, random);
    const pivot: Point3 = [face.centre[0], face.centre[1], -face.unit];
    const eyesClosed: number[] = [];
    for (let i = 0; i < o.frames; i++) {
      const t = i / o.fps;
      const shut = closure(blinks, t);
      eyesClosed.push(shut);
      const moved = points.map((p) => [...p] as Point3);
      for (const [upper, lower] of EYELIDS) {
        const [u, l] = [moved[upper]!, moved[lower]!];
        moved[upper] = [u[0] + 0.9 * shut * (l[0] - u[0]), u[1] + 0.9 * shut * (l[1] - u[1]), u[2]];
      }
      const projected = projectPose(moved, move(t), pivot, distance);
      const to = projected.map((p, j) => toScene(j < fixed ? p : [points[j]![0], points[j]![1]]));
      const frame = { width, height, data: new Uint8Array(width * height * 3) };
      drawMesh(
        photo,
        frame,
        mesh,
        points.map((p) => [p[0], p[1]]),
        to,
        points.map((p) => p[2]),
        new Float32Array(width * height).fill(-Infinity),
      );
      frames.push(await camera(frame, random, i));
    }
    return { frames, blinks: blinks.length, eyesClosed };
  }

  const medium = kind.startsWith('A3')
    ? screenTexture(photo, random)
    : kind.startsWith('A4')
      ? printTexture(photo)
      : plainTexture(photo);
  const moving = kind === 'A2' || kind.endsWith('moving');
  const move = moving
    ? motion(random, { yaw: 25, pitch: 15, roll: 10, shift: 0.6 * face.unit, scale: 0.1 })
    : () => STILL;
  const plane = planeMesh(medium);
  const pivot: Point3 = [face.centre[0], face.centre[1], 0];
  for (let i = 0; i < o.frames; i++) {
    const t = i / o.fps;
    // Motion blur: a hand-held picture moves during the exposure; three poses averaged.
    const exposures = moving ? [-0.02, 0, 0.02] : [0];
    const sum = new Float32Array(width * height * 3);
    for (const dt of exposures) {
      const frame = { ...background, data: new Uint8Array(background.data) };
      const to = projectPose(plane.photoPoints, move(t + dt), pivot, distance).map(toScene);
      drawMesh(
        medium.image,
        frame,
        plane.mesh,
        plane.texturePoints,
        to,
        plane.depth,
        new Float32Array(width * height).fill(-Infinity),
      );
      for (let j = 0; j < sum.length; j++) sum[j]! += frame.data[j]!;
    }
    const data = new Uint8Array(sum.length);
    for (let j = 0; j < sum.length; j++) data[j] = Math.round(sum[j]! / exposures.length);
    frames.push(await camera({ width, height, data }, random, i));
  }
  return { frames, blinks: 0, eyesClosed: frames.map(() => 0) };
}

/** A flat picture as a 9x9 grid: fine enough that its piecewise affine warp is the homography a tilt gives. */
function planeMesh(t: Texture) {
  const texturePoints: Point[] = [];
  for (let gy = 0; gy <= 8; gy++)
    for (let gx = 0; gx <= 8; gx++)
      texturePoints.push([(gx / 8) * (t.image.width - 1), (gy / 8) * (t.image.height - 1)]);
  return {
    mesh: delaunay(texturePoints),
    texturePoints,
    photoPoints: texturePoints.map(([x, y]): Point3 => [
      (x - t.offset) / t.scale,
      (y - t.offset) / t.scale,
      0,
    ]),
    depth: texturePoints.map(() => 0),
  };
}

/**
 * The head: the 68 landmarks at their depths, a forehead above the brows and a ring outside the
 * jaw curving back towards the ears, then `anchors` (photo pixels) that stay where they are: the
 * room behind the person does not turn with the head.
 */
function headMesh(landmarks: readonly Point[], g: Geometry, anchors: readonly Point[]) {
  const { unit, down, centre } = g;
  const points: Point3[] = landmarks.map(([x, y], i) => [x, y, landmarkDepth(i) * unit]);
  for (let i = 17; i <= 26; i++) {
    const [x, y] = landmarks[i]!;
    const side = Math.abs(i - 21.5) / 4.5;
    points.push([x - 0.5 * unit * down[0], y - 0.5 * unit * down[1], (0.05 - 0.35 * side * side) * unit]);
    points.push([x - 1.1 * unit * down[0], y - 1.1 * unit * down[1], (-0.2 - 0.5 * side * side) * unit]);
  }
  for (let i = 0; i <= 16; i++) {
    const [x, y] = landmarks[i]!;
    const [ox, oy] = [x - centre[0], y - centre[1]];
    const r = Math.hypot(ox, oy) || 1;
    points.push([x + (0.3 * unit * ox) / r, y + (0.3 * unit * oy) / r, -1.1 * unit]);
  }
  const fixed = points.length;
  // A ring well outside the head, then the scene's edges: where the room stays put.
  for (let a = 0; a < 16; a++) {
    const angle = (2 * Math.PI * a) / 16;
    points.push([
      centre[0] + 2.6 * unit * Math.cos(angle),
      centre[1] + 2.6 * unit * Math.sin(angle),
      -3 * unit,
    ]);
  }
  for (const [x, y] of anchors) points.push([x, y, -3 * unit]);
  return { mesh: delaunay(points.map(([x, y]) => [x, y])), points, fixed };
}
