// facegate verify IMAGE1 IMAGE2 [--threshold T]: the one-shot decision d(img1, img2) < T.
import { FacegateError } from '../errors.js';
import { ENCODER_THRESHOLDS, euclidean, matchThreshold } from '../inference/faces.js';
import { decodeImage } from '../vision/image.js';
import { parseCommand, parseNumber, round, type CommandContext } from './args.js';

export const VERIFY_USAGE = `Usage: facegate verify IMAGE1 IMAGE2 [--threshold T]

Compares the largest face in each image and prints
  {"distance", "threshold", "same"}
where distance is the Euclidean distance between the two unit-length embeddings and same is
distance < threshold. Exit status 0 when both faces were compared (same or not), 2 when an
image cannot be read or has no face.

Options:
  --threshold T      decision threshold (default: match.threshold, or the encoder's own: dlib ${ENCODER_THRESHOLDS.dlib}, mobilefacenet ${ENCODER_THRESHOLDS.mobilefacenet})
  -h, --help         this text`;

export async function verifyCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values, positionals } = parseCommand(argv, { threshold: { type: 'string' } }, VERIFY_USAGE);
  if (values.help) {
    io.out(VERIFY_USAGE);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new FacegateError(
      'USAGE',
      `verify takes exactly two images, got ${positionals.length}\n\n${VERIFY_USAGE}`,
    );
  }
  const threshold = parseNumber('threshold', values.threshold, matchThreshold(config));
  if (threshold <= 0) throw new FacegateError('USAGE', `--threshold must be positive, got ${threshold}`);
  const engine = await ctx.engine();
  const embeddings: Float32Array[] = [];
  for (const file of positionals) {
    const faces = await engine.analyze(await decodeImage(file), { detector: config.detector });
    if (!faces[0]) throw new FacegateError('NO_FACE', `${file}: no face found`);
    embeddings.push(faces[0].embedding);
  }
  const distance = euclidean(embeddings[0]!, embeddings[1]!);
  io.out(JSON.stringify({ distance: round(distance), threshold, same: distance < threshold }));
  return 0;
}
