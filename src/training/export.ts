// A trained head as an ONNX model (written with facegate's own protobuf writer), plus a JSON
// manifest beside it (<file>.json) with what the daemon needs to use it: the kind, the encoder it
// was trained on, the sha256 of the ONNX file, and the threshold calibrated on validation.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { GraphBuilder } from '../inference/onnx-writer.js';
import type { HeadManifest } from '../inference/head.js';
import type { Network } from './network.js';
import type { Head } from './train.js';

function dense(g: GraphBuilder, x: string, net: Network): string {
  let cur = x;
  net.layers.forEach((layer, l) => {
    // ONNX MatMul wants [in, out]; training keeps [out][in].
    const t = new Float32Array(layer.inDim * layer.outDim);
    for (let o = 0; o < layer.outDim; o++)
      for (let i = 0; i < layer.inDim; i++) t[i * layer.outDim + o] = layer.w[o * layer.inDim + i]!;
    cur = g.node('MatMul', [cur, g.floats(`w${l}`, [layer.inDim, layer.outDim], t)]);
    cur = g.node('Add', [cur, g.floats(`b${l}`, [layer.outDim], Float32Array.from(layer.b))]);
    if (l < net.layers.length - 1) cur = g.node('Relu', [cur]);
  });
  return cur;
}

/**
 * triplet: embedding [batch, D] -> projected [batch, D'] (unit length);
 * binary: a, b [batch, D] -> same [batch, 1], a similarity in 0..1.
 */
export function headToOnnx(head: Head): Uint8Array {
  const net = head.net;
  const inDim = net.layers[0]!.inDim;
  const outDim = net.layers.at(-1)!.outDim;
  const g = new GraphBuilder(`facegate_${head.kind}_head`);
  if (head.kind === 'triplet') {
    const y = dense(g, g.input('embedding', ['batch', inDim]), net);
    const sum = g.node('ReduceSum', [g.node('Mul', [y, y]), g.int64s('axes', [1])], { keepdims: 1 });
    const norm = g.node('Add', [g.node('Sqrt', [sum]), g.floats('eps', [], [1e-12])]);
    g.node('Div', [y, norm], {}, 'projected');
    g.output('projected', ['batch', outDim]);
  } else {
    const diff = g.node('Abs', [
      g.node('Sub', [g.input('a', ['batch', inDim]), g.input('b', ['batch', inDim])]),
    ]);
    g.node('Sigmoid', [dense(g, diff, net)], {}, 'same');
    g.output('same', ['batch', 1]);
  }
  return g.toModel({ producer: 'facegate train', version: '1', doc: `${head.kind} head` });
}

/** Writes FILE (ONNX) and FILE.json (manifest); each via a temporary file and a rename. */
export function writeHead(
  file: string,
  head: Head,
  meta: Omit<HeadManifest, 'format' | 'kind' | 'inputDim' | 'sha256'>,
): HeadManifest {
  const bytes = headToOnnx(head);
  const manifest: HeadManifest = {
    format: 'facegate-head/1',
    kind: head.kind,
    inputDim: head.net.layers[0]!.inDim,
    ...meta,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  writeFileSync(`${file}.tmp`, bytes);
  renameSync(`${file}.tmp`, file);
  writeFileSync(`${file}.json.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${file}.json.tmp`, `${file}.json`);
  return manifest;
}
