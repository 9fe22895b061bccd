// Track fusion: the faces of one pass in front of the camera, averaged into one probe. Each
// frame's embedding carries the noise of that moment (pose, blur, light, codec); their weighted
// mean keeps what is stable, the person. On lfw-dev identities with several photos as the frames
// of a pass, the fused probe took TPIR at FPIR 1e-3 from 86% to 96% (MobileFaceNet) and from 43%
// to 77% (dlib); weighting by quality measured no better than equal weights there
// (bench/RESULTS.md, 2026-12-06: open-set decisions), and the quality score is kept as the weight
// so a blurred or turned frame counts less on a real camera.
import { vectorLength } from '../inference/faces.js';

export type FusionFrame = { embedding: Float32Array; weight: number };

/**
 * The weighted mean of `frames`, rescaled to their mean length: unit embeddings stay unit, and
 * an encoder whose distances are read on its own scale (dlib) keeps that scale, so one threshold
 * serves single frames and fused probes.
 */
export function fusedEmbedding(frames: readonly FusionFrame[]): Float32Array {
  const first = frames[0];
  if (!first) throw new Error('fusedEmbedding: no frames');
  const dim = first.embedding.length;
  const sum = new Float32Array(dim);
  let weights = 0;
  let lengths = 0;
  for (const { embedding, weight } of frames) {
    if (embedding.length !== dim)
      throw new Error(`fusedEmbedding: ${embedding.length} values, expected ${dim}`);
    const w = Math.max(weight, 1e-6);
    for (let k = 0; k < dim; k++) sum[k]! += w * embedding[k]!;
    weights += w;
    lengths += vectorLength(embedding);
  }
  const norm = vectorLength(sum);
  const scale = norm > 0 ? lengths / frames.length / norm : 1 / weights;
  for (let k = 0; k < dim; k++) sum[k]! *= scale;
  return sum;
}
