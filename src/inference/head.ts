// A trained comparison head (facegate train) run by ONNX Runtime: the triplet head projects
// embeddings (compared by Euclidean distance), the binary head scores a pair. The manifest beside
// the ONNX file says which, which encoder it belongs to, and its calibrated threshold; a file
// that does not match its manifest's sha256 is refused.
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { FacegateError, readFileOrThrow } from '../errors.js';

export type HeadManifest = {
  format: 'facegate-head/1';
  kind: 'triplet' | 'binary';
  /** Width of the encoder embedding the head takes. */
  inputDim: number;
  /** The encoder tag (FaceEngine.unitEncoderId) of the embeddings it was trained on. */
  encoder: string;
  sha256: string;
  /**
   * Same person when the head's distance is under this: for the triplet head the Euclidean
   * distance between projections; for the binary head 1 - similarity. Chosen for FAR 1e-3 on
   * the validation identities.
   */
  threshold: number;
  thresholdFar: number;
  trained: Record<string, unknown>;
};

export class HeadModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: HeadManifest,
    private readonly file: string,
  ) {}

  /** Refuses a head of another kind, or one trained on other embeddings than `encoder` tags. */
  assertFits(kind: HeadManifest['kind'], encoder: string): void {
    const m = this.manifest;
    if (m.kind !== kind)
      throw new FacegateError('MODEL_INVALID', `${this.file}: a ${m.kind} head, not a ${kind} one`);
    if (m.encoder !== encoder)
      throw new FacegateError(
        'MODEL_INVALID',
        `${this.file}: trained on encoder ${m.encoder.slice(0, 12)}, not on ${encoder.slice(0, 12)}: train it again`,
      );
  }

  static async open(file: string): Promise<HeadModel> {
    const bytes = readFileOrThrow(
      file,
      'MODEL_INVALID',
      (reason) => `${file}: cannot read the head (${reason})`,
    );
    const json = readFileOrThrow(
      `${file}.json`,
      'MODEL_INVALID',
      (reason) => `${file}.json: cannot read the head's manifest (${reason})`,
    );
    let manifest: HeadManifest;
    try {
      manifest = JSON.parse(json.toString('utf8')) as HeadManifest;
    } catch (err) {
      throw new FacegateError('MODEL_INVALID', `${file}.json: not JSON (${(err as Error).message})`);
    }
    if (manifest.format !== 'facegate-head/1' || (manifest.kind !== 'triplet' && manifest.kind !== 'binary'))
      throw new FacegateError('MODEL_INVALID', `${file}.json: not a facegate head manifest`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== manifest.sha256)
      throw new FacegateError(
        'MODEL_INVALID',
        `${file}: sha256 ${sha.slice(0, 12)} differs from its manifest's ${manifest.sha256.slice(0, 12)}`,
      );
    try {
      const session = await ort.InferenceSession.create(bytes, {
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      return new HeadModel(session, manifest, file);
    } catch (err) {
      throw new FacegateError(
        'MODEL_INVALID',
        `${file}: ONNX Runtime could not load it (${(err as Error).message})`,
      );
    }
  }

  get id(): string {
    return this.manifest.sha256;
  }

  /** Triplet head: the projection of each embedding. */
  async project(embeddings: readonly Float32Array[]): Promise<Float32Array[]> {
    if (!embeddings.length) return [];
    const dim = this.manifest.inputDim;
    const input = new Float32Array(embeddings.length * dim);
    embeddings.forEach((e, i) => input.set(e, i * dim));
    const out = (
      await this.session.run({ embedding: new ort.Tensor('float32', input, [embeddings.length, dim]) })
    ).projected!;
    const d = out.dims[1]!;
    const data = out.data as Float32Array;
    return embeddings.map((_, i) => data.slice(i * d, (i + 1) * d));
  }

  /** Binary head: the similarity (0..1) of a[i] and b[i], both `rows` x inputDim. */
  async similarity(a: Float32Array, b: Float32Array, rows: number): Promise<Float32Array> {
    const dims = [rows, this.manifest.inputDim];
    const out = await this.session.run({
      a: new ort.Tensor('float32', a, dims),
      b: new ort.Tensor('float32', b, dims),
    });
    return out.same!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
