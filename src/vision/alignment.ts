// Face alignment as dlib does it for its ResNet face descriptor (the network facegate's encoder
// was converted from): a similarity transform fitted from 68 detected landmarks to a mean face
// shape, so eyes, nose and mouth land where the network saw them in training.
import { fitSimilarity, type Affine } from './warp.js';

export type Point = [number, number];

/**
 * dlib's mean face shape for landmarks 17..67 (iBUG 68-point order) in a unit square, from
 * dlib/image_transforms/interpolation.h get_face_chip_details (Boost Software License).
 */
const MEAN_FACE_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
  0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122,
  0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
  0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532,
  0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_FACE_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
  0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423,
  0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077,
  0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192,
  0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803,
  0.824182,
];

/**
 * The landmarks the fit uses, as dlib: nose, eyes and upper mouth; the eyebrows (17..26) and the
 * lower lip (55..59, 65..67) move with expression and are left out.
 */
const ALIGNMENT_POINTS = Array.from({ length: 68 }, (_, i) => i).filter(
  (i) => i >= 27 && !(i >= 55 && i <= 59) && !(i >= 65 && i <= 67),
);

/** dlib's face recognition example extracts 150x150 chips with padding 0.25. */
/** dlib's mean face, landmark `index` (17-67: the template has no jaw) in 0..1. */
export function meanFacePoint(index: number): Point {
  if (index < 17 || index > 67) throw new RangeError(`the mean face has no landmark ${index}`);
  return [MEAN_FACE_X[index - 17]!, MEAN_FACE_Y[index - 17]!];
}

export const CHIP_PADDING = 0.25;

/** Where each landmark used for alignment belongs in a `size` x `size` chip. */
export function alignmentTemplate(size: number, padding = CHIP_PADDING): { index: number; chip: Point }[] {
  return ALIGNMENT_POINTS.map((index) => ({
    index,
    chip: [
      ((padding + MEAN_FACE_X[index - 17]!) / (2 * padding + 1)) * size,
      ((padding + MEAN_FACE_Y[index - 17]!) / (2 * padding + 1)) * size,
    ],
  }));
}

/**
 * The affine map from chip pixels to image pixels that puts `landmarks` (68 points, image
 * coordinates) onto the mean face in a `size` x `size` chip with `padding` around it.
 */
export function alignmentTransform(
  landmarks: readonly Point[],
  size: number,
  padding = CHIP_PADDING,
): Affine {
  if (landmarks.length !== 68) throw new Error(`alignment needs 68 landmarks, got ${landmarks.length}`);
  const template = alignmentTemplate(size, padding);
  return fitSimilarity(
    template.map((t) => t.chip),
    template.map((t) => landmarks[t.index]!),
  );
}

/**
 * ArcFace's five-point template in a 112x112 chip (insightface): the centres of the left and right
 * eyes (as seen in the image), the nose tip, the left and right mouth corners. MobileFaceNet and
 * the other ArcFace-trained encoders saw their faces placed so.
 */
const ARCFACE_TEMPLATE_112: Point[] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

/** The five ArcFace points from 68 iBUG landmarks: eye centres (36-41, 42-47), 30, 48, 54. */
function arcfacePoints(landmarks: readonly Point[]): Point[] {
  const centre = (from: number): Point => {
    const eye = landmarks.slice(from, from + 6);
    return [eye.reduce((a, p) => a + p[0], 0) / 6, eye.reduce((a, p) => a + p[1], 0) / 6];
  };
  return [centre(36), centre(42), landmarks[30]!, landmarks[48]!, landmarks[54]!];
}

/** The affine map from chip pixels to image pixels that puts a face on ArcFace's template. */
export function arcfaceTransform(landmarks: readonly Point[], size: number): Affine {
  if (landmarks.length !== 68) throw new Error(`alignment needs 68 landmarks, got ${landmarks.length}`);
  const scale = size / 112;
  return fitSimilarity(
    ARCFACE_TEMPLATE_112.map(([x, y]): Point => [x * scale, y * scale]),
    arcfacePoints(landmarks),
  );
}

/**
 * The map for a plain box crop, as face-api feeds its descriptor: the box padded to a square
 * around its centre and scaled to `size`. Used to compare against alignment.
 */
export function boxCropTransform(
  box: { x: number; y: number; width: number; height: number },
  size: number,
): Affine {
  const side = Math.max(box.width, box.height);
  const s = side / size;
  return [s, 0, box.x + box.width / 2 - side / 2, 0, s, box.y + box.height / 2 - side / 2];
}
