import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/inference/onnx-writer.js';

describe('onnx-writer', () => {
  it('writes a model ONNX Runtime loads and runs with the intended arithmetic', async () => {
    const g = new GraphBuilder('tiny');
    const x = g.input('x', ['batch', 3]);
    const w = g.floats('w', [3, 2], [1, 2, 3, 4, 5, 6]);
    const y = g.node('MatMul', [x, w]);
    const padded = g.node('Pad', [y, g.int64s('pads', [0, 1, 0, 0])]);
    g.node('LeakyRelu', [padded], { alpha: { float: 0.5 } }, 'y');
    g.output('y', ['batch', 3]);
    const session = await ort.InferenceSession.create(g.toModel({ producer: 'test', version: '1', doc: '' }));
    const out = await session.run({
      x: new ort.Tensor('float32', Float32Array.from([1, -1, 0, -2, 0, 0]), [2, 3]),
    });
    // [1,-1,0]·w = [1-3, 2-4] = [-2,-2] -> pad left 0 -> leaky 0.5
    expect(Array.from(out.y!.data as Float32Array)).toEqual([0, -1, -1, 0, -1, -2]);
    await session.release();
  });

  it('is deterministic: the same calls give the same bytes', () => {
    const build = () => {
      const g = new GraphBuilder('d');
      g.node('Relu', [g.input('x', [1])], {}, 'y');
      g.output('y', [1]);
      return Buffer.from(g.toModel({ producer: 'p', version: '1', doc: 'x' }));
    };
    expect(build().equals(build())).toBe(true);
  });

  it('shares an initializer declared again with the same values, and refuses different ones', async () => {
    const g = new GraphBuilder('shared');
    const x = g.input('x', [2]);
    const once = g.node('Add', [x, g.floats('w', [2], [1, 2])]);
    g.node('Add', [once, g.floats('w', [2], [1, 2])], {}, 'y');
    g.output('y', [2]);
    const session = await ort.InferenceSession.create(g.toModel({ producer: 'p', version: '1', doc: '' }));
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([10, 20]), [2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([12, 24]);
    await session.release();
    expect(() => g.floats('w', [2], [1, 3])).toThrow(/initializer w: declared twice with different values/);
    expect(() => g.floats('w', [1, 2], [1, 2])).toThrow(/declared twice/);
  });

  it('refuses an initializer whose data does not fit its shape', () => {
    expect(() => new GraphBuilder('bad').floats('w', [2, 2], [1, 2, 3])).toThrow(/initializer w: 3 values/);
  });
});
