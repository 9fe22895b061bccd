// facegate embed [--all-faces] IMAGE...: one JSON line per image with its faces and embeddings.
import type { Face } from '../inference/faces.js';
import { decodeImage } from '../vision/image.js';
import { parseCommand, round, type CommandContext } from './args.js';

export const EMBED_USAGE = `Usage: facegate embed [--all-faces] [--crop aligned|box] IMAGE...

Prints one JSON line per image:
  {"file", "faces": [{"box": [x, y, w, h], "score", "landmarks": [[x, y], ...68], "quality": {...},
                      "embedding": [128 numbers (dlib) or 192 (mobilefacenet)]}]}
Only the largest face unless --all-faces. An image that cannot be read prints {"file", "error"}
and the others still run. Exit status 0 only when every image was read.

Options:
  --all-faces        every detected face, largest first
  --crop MODE        aligned (default: similarity transform from landmarks) or box (plain box crop)
  -h, --help         this text`;

/** `scale`: file pixels per decoded pixel (a huge photo is decoded shrunk), so boxes are the file's. */
export function faceToJson(f: Face, scale = 1) {
  return {
    box: [f.box.x, f.box.y, f.box.width, f.box.height].map((v) => round(v * scale, 1)),
    score: round(f.score, 4),
    landmarks: f.landmarks.map(([x, y]) => [round(x * scale, 1), round(y * scale, 1)]),
    quality: Object.fromEntries(Object.entries(f.quality).map(([k, v]) => [k, round(v, 3)])),
    embedding: Array.from(f.embedding, (v) => round(v, 7)),
  };
}

export async function embedCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values, positionals } = parseCommand(
    argv,
    { 'all-faces': { type: 'boolean' }, crop: { type: 'string' } },
    EMBED_USAGE,
  );
  if (values.help) {
    io.out(EMBED_USAGE);
    return 0;
  }
  const crop = values.crop ?? 'aligned';
  if (crop !== 'aligned' && crop !== 'box') {
    io.err(`facegate embed: --crop must be "aligned" or "box", not "${crop}"`);
    return 2;
  }
  if (!positionals.length) {
    io.err(`facegate embed: no images given\n\n${EMBED_USAGE}`);
    return 2;
  }
  const engine = await ctx.engine();
  let failed = 0;
  for (const file of positionals) {
    try {
      const image = await decodeImage(file);
      const faces = await engine.analyze(image, {
        select: values['all-faces'] ? 'all' : 'largest',
        crop,
        detector: config.detector,
      });
      io.out(JSON.stringify({ file, faces: faces.map((f) => faceToJson(f, image.scale)) }));
    } catch (err) {
      failed++;
      io.out(JSON.stringify({ file, error: (err as Error).message }));
    }
  }
  return failed ? 1 : 0;
}
