// Reads a TensorFlow Lite model (a FlatBuffer of the TFLite schema, identifier "TFL3") into plain
// objects: tensors with their shapes and float data, operators by builtin name with their options.
// Only what our converters use is read; every offset is checked against the file's length, so a
// truncated or foreign file is refused with the file's name and what is wrong, never misread.

export type TfliteTensor = {
  name: string;
  shape: number[];
  type: TensorTypeName;
  /** The constant's values (FLOAT32 and INT32 tensors with a buffer); undefined for activations. */
  data?: Float32Array | Int32Array;
};

export type TfliteOperator = {
  op: string;
  inputs: number[];
  outputs: number[];
  /** The builtin options table's fields by index (see OPTION_FIELDS for their names). */
  options: Record<string, number | number[]>;
};

export type TfliteModel = {
  version: number;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
};

/** BuiltinOperator codes (tensorflow/lite/schema/schema.fbs) of the operators we may meet. */
const BUILTIN: Record<number, string> = {
  0: 'ADD',
  1: 'AVERAGE_POOL_2D',
  2: 'CONCATENATION',
  3: 'CONV_2D',
  4: 'DEPTHWISE_CONV_2D',
  6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED',
  11: 'L2_NORMALIZATION',
  14: 'LOGISTIC',
  17: 'MAX_POOL_2D',
  18: 'MUL',
  19: 'RELU',
  21: 'RELU6',
  22: 'RESHAPE',
  25: 'SOFTMAX',
  34: 'PAD',
  40: 'MEAN',
  41: 'SUB',
  43: 'SQUEEZE',
  54: 'PRELU',
  101: 'ABS',
};

const TENSOR_TYPES = ['FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16'] as const;
type TensorTypeName = (typeof TENSOR_TYPES)[number] | `type ${number}`;

/** The names of each builtin's option fields, in schema order (absent ones keep their default). */
const OPTION_FIELDS: Record<string, { names: string[]; defaults?: Record<string, number> }> = {
  CONV_2D: {
    names: [
      'padding',
      'stride_w',
      'stride_h',
      'fused_activation_function',
      'dilation_w_factor',
      'dilation_h_factor',
    ],
    defaults: { dilation_w_factor: 1, dilation_h_factor: 1 },
  },
  DEPTHWISE_CONV_2D: {
    names: [
      'padding',
      'stride_w',
      'stride_h',
      'depth_multiplier',
      'fused_activation_function',
      'dilation_w_factor',
      'dilation_h_factor',
    ],
    defaults: { dilation_w_factor: 1, dilation_h_factor: 1 },
  },
  ADD: { names: ['fused_activation_function'] },
  SUB: { names: ['fused_activation_function'] },
  MUL: { names: ['fused_activation_function'] },
  FULLY_CONNECTED: { names: ['fused_activation_function', 'weights_format', 'keep_num_dims'] },
  RESHAPE: { names: ['new_shape'] },
};
/** Option fields that are vectors of int32 rather than scalars. */
const VECTOR_OPTIONS = new Set(['new_shape']);
/** Option fields stored as int32 (the others are bytes: enums and bools). */
const INT_OPTIONS = new Set([
  'stride_w',
  'stride_h',
  'depth_multiplier',
  'dilation_w_factor',
  'dilation_h_factor',
]);

/** A bounds-checked view of a FlatBuffer's tables, vectors and strings. */
class FlatBuffer {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private check(at: number, size: number, what: string): void {
    if (!(at >= 0 && at + size <= this.bytes.length))
      throw new Error(
        `${this.file}: truncated or damaged TFLite file (${what} at byte ${at} is beyond its ${this.bytes.length} bytes)`,
      );
  }

  u8(at: number): number {
    this.check(at, 1, 'a byte');
    return this.view.getUint8(at);
  }
  i32(at: number): number {
    this.check(at, 4, 'an int32');
    return this.view.getInt32(at, true);
  }
  u32(at: number): number {
    this.check(at, 4, 'a uint32');
    return this.view.getUint32(at, true);
  }

  /** The position of field `index` of the table at `table`, or undefined when absent. */
  field(table: number, index: number): number | undefined {
    const vtable = table - this.i32(table);
    this.check(vtable, 4, 'a vtable');
    const vtableSize = this.view.getUint16(vtable, true);
    const entry = 4 + 2 * index;
    if (entry + 2 > vtableSize) return undefined;
    this.check(vtable + entry, 2, 'a vtable entry');
    const offset = this.view.getUint16(vtable + entry, true);
    return offset ? table + offset : undefined;
  }

  /** The table, vector or string that the offset field at `at` points to. */
  deref(at: number): number {
    return at + this.u32(at);
  }

  scalar(table: number, index: number, size: 1 | 4, fallback = 0): number {
    const at = this.field(table, index);
    if (at === undefined) return fallback;
    return size === 1 ? this.u8(at) : this.i32(at);
  }

  /** [position of the first element, length] of the vector field, or undefined when absent. */
  vector(table: number, index: number, elementSize: number): [number, number] | undefined {
    const at = this.field(table, index);
    if (at === undefined) return undefined;
    const vec = this.deref(at);
    const length = this.u32(vec);
    this.check(vec + 4, length * elementSize, `a vector of ${length}`);
    return [vec + 4, length];
  }

  ints(table: number, index: number): number[] {
    const v = this.vector(table, index, 4);
    if (!v) return [];
    return Array.from({ length: v[1] }, (_, i) => this.i32(v[0] + 4 * i));
  }

  tables(table: number, index: number): number[] {
    const v = this.vector(table, index, 4);
    if (!v) return [];
    return Array.from({ length: v[1] }, (_, i) => this.deref(v[0] + 4 * i));
  }

  string(table: number, index: number): string {
    const v = this.vector(table, index, 1);
    return v ? new TextDecoder().decode(this.bytes.subarray(v[0], v[0] + v[1])) : '';
  }

  /** A copy of the byte vector field (its own, aligned buffer). */
  byteVector(table: number, index: number): Uint8Array | undefined {
    const v = this.vector(table, index, 1);
    if (!v) return undefined;
    // A copy: a Node Buffer's slice() is a view into the file, not aligned for Float32Array.
    const copy = new Uint8Array(v[1]);
    copy.set(this.bytes.subarray(v[0], v[0] + v[1]));
    return copy;
  }
}

/** Parses a .tflite file's bytes; `file` names it in errors. */
export function readTflite(bytes: Uint8Array, file: string): TfliteModel {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(4, 8)) !== 'TFL3')
    throw new Error(`${file}: not a TFLite model (no "TFL3" identifier at byte 4)`);
  const fb = new FlatBuffer(bytes, file);
  const model = fb.deref(0);
  const version = fb.scalar(model, 0, 4);
  const codes = fb.tables(model, 1).map((code) => {
    // builtin_code (field 3, int32) superseded deprecated_builtin_code (field 0, int8) at 127.
    const deprecated = fb.scalar(code, 0, 1);
    const builtin = Math.max(deprecated, fb.scalar(code, 3, 4));
    const custom = fb.string(code, 1);
    return custom ? `CUSTOM ${custom}` : (BUILTIN[builtin] ?? `BUILTIN ${builtin}`);
  });
  const buffers = fb.tables(model, 4).map((b) => fb.byteVector(b, 0));
  const subgraphs = fb.tables(model, 2);
  if (subgraphs.length !== 1) throw new Error(`${file}: ${subgraphs.length} subgraphs, expected 1`);
  const graph = subgraphs[0]!;

  const tensors = fb.tables(graph, 0).map((t): TfliteTensor => {
    const typeCode = fb.scalar(t, 1, 1);
    const type: TensorTypeName = TENSOR_TYPES[typeCode] ?? `type ${typeCode}`;
    const tensor: TfliteTensor = { name: fb.string(t, 3), shape: fb.ints(t, 0), type };
    const raw = buffers[fb.scalar(t, 2, 4)];
    if (raw?.length) {
      const count = raw.length / 4;
      if (type === 'FLOAT32') tensor.data = new Float32Array(raw.buffer, 0, count);
      else if (type === 'INT32') tensor.data = new Int32Array(raw.buffer, 0, count);
      else throw new Error(`${file}: tensor ${tensor.name} holds ${type} data, which is not supported`);
      const expected = tensor.shape.reduce((a, b) => a * b, 1);
      if (count !== expected)
        throw new Error(
          `${file}: tensor ${tensor.name} has ${count} values for shape [${tensor.shape.join(',')}]`,
        );
    }
    return tensor;
  });

  const operators = fb.tables(graph, 3).map((o): TfliteOperator => {
    const op = codes[fb.scalar(o, 0, 4)] ?? `opcode ${fb.scalar(o, 0, 4)}`;
    const options: Record<string, number | number[]> = {};
    const spec = OPTION_FIELDS[op];
    const at = fb.field(o, 4); // builtin_options (the union's value; its type is field 3)
    if (spec) {
      const table = at === undefined ? undefined : fb.deref(at);
      spec.names.forEach((name, i) => {
        if (VECTOR_OPTIONS.has(name)) options[name] = table === undefined ? [] : fb.ints(table, i);
        else
          options[name] =
            table === undefined
              ? (spec.defaults?.[name] ?? 0)
              : fb.scalar(table, i, INT_OPTIONS.has(name) ? 4 : 1, spec.defaults?.[name] ?? 0);
      });
    }
    return { op, inputs: fb.ints(o, 1), outputs: fb.ints(o, 2), options };
  });

  return { version, tensors, inputs: fb.ints(graph, 1), outputs: fb.ints(graph, 2), operators };
}
