// ONNX Runtime sessions. Execution providers are tried in the configured order (TensorRT, CUDA,
// CPU); the npm build of onnxruntime-node ships only CPU on linux, so on a development box the
// list falls through to CPU, and the provider actually used is reported to the caller.
import { mkdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { FacegateError } from '../errors.js';
import { loadModelBytes, type ModelEntry } from './model-manifest.js';

export const EXECUTION_PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export type SessionOptions = {
  providers?: readonly ExecutionProvider[];
  /** Threads for one inference; 0 lets ONNX Runtime use every core. */
  intraOpThreads?: number;
  /** TensorRT: where built engines are kept between starts (empty: rebuilt at every start). */
  engineCacheDir?: string;
  /** TensorRT: allow fp16 kernels. */
  fp16?: boolean;
  /** CPU: run a model's int8 graph where the manifest has one (the GPU providers run the float graph). */
  int8?: boolean;
};

/**
 * TensorRT settings as ONNX Runtime's TensorRT provider reads them from the environment when
 * it is added without an options struct, which is how onnxruntime-node adds it (its JavaScript
 * options take only a device id: microsoft/onnxruntime#26854). Building engines takes minutes on
 * a Jetson; the cache makes every later start take seconds.
 */
export function tensorrtEnvironment(opts: SessionOptions): Record<string, string> {
  const env: Record<string, string> = { ORT_TENSORRT_FP16_ENABLE: opts.fp16 === false ? '0' : '1' };
  if (opts.engineCacheDir) {
    env.ORT_TENSORRT_ENGINE_CACHE_ENABLE = '1';
    env.ORT_TENSORRT_CACHE_PATH = opts.engineCacheDir;
    env.ORT_TENSORRT_ENGINE_CACHE_PATH = opts.engineCacheDir;
    env.ORT_TENSORRT_TIMING_CACHE_ENABLE = '1';
  }
  return env;
}

export type ModelSession = {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  entry: ModelEntry;
};

export async function openModel(
  modelsDir: string,
  float: ModelEntry,
  opts: SessionOptions = {},
): Promise<ModelSession> {
  const available = new Set(ort.listSupportedBackends().map((b) => b.name));
  const providers = (opts.providers ?? ['cpu']).filter((p) => p === 'cpu' || available.has(p));
  const errors: string[] = [];
  // Read and checked once per file, however many providers are tried (the encoder is 22 MB).
  const loaded = new Map<ModelEntry, Uint8Array>();
  const bytesOf = (entry: ModelEntry): Uint8Array => {
    let bytes = loaded.get(entry);
    if (!bytes) loaded.set(entry, (bytes = loadModelBytes(modelsDir, entry)));
    return bytes;
  };
  for (const provider of providers.length ? providers : (['cpu'] as const)) {
    if (provider === 'tensorrt') {
      if (opts.engineCacheDir) mkdirSync(opts.engineCacheDir, { recursive: true });
      Object.assign(process.env, tensorrtEnvironment(opts));
    }
    const entry = provider === 'cpu' && opts.int8 && float.int8 ? float.int8 : float;
    const bytes = bytesOf(entry);
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: opts.intraOpThreads ?? 0,
        // The memory pattern plans one block per input shape and keeps it: the detector's (720p,
        // a shape per camera size) held 90 MiB more for no speed (bench/RESULTS.md, issue 25).
        // The arena stays: without it every run maps its buffers afresh, 2x slower.
        enableMemPattern: false,
        // Each session has its own thread pool. Its threads spin between the operators of one run
        // (waking them for each of a hundred small operators cost 7% of a 720p frame) but stop at
        // its end: left spinning, they took the cores from the next model (140 -> 70 ms a frame).
        extra: { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } },
      });
      return { session, provider, entry };
    } catch (err) {
      errors.push(`${provider}: ${(err as Error).message}`);
    }
  }
  throw new FacegateError(
    'MODEL_INVALID',
    `${float.file}: ONNX Runtime could not load it (${errors.join('; ')})`,
  );
}

/**
 * Runs a model with one NHWC float input (the landmark network, the encoder) and returns its
 * single output. The detector has inputs of its own (detector.ts: runDetector).
 */
export async function runModel(
  m: ModelSession,
  input: Float32Array,
  dims: readonly number[],
): Promise<ort.Tensor> {
  const inputName = m.entry.inputs[0]!.name;
  const outputName = m.entry.outputs[0]!.name;
  const result = await m.session.run({ [inputName]: new ort.Tensor('float32', input, dims) });
  const out = result[outputName];
  if (!out) throw new Error(`${m.entry.file}: no output named ${outputName}`);
  return out;
}
