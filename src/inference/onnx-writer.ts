// A small ONNX model writer: just enough of the protobuf wire format to serialise the graphs that
// tools/convert-models.ts builds (and, later, trained heads). Writing the bytes ourselves keeps the
// output deterministic (no timestamps, no map ordering) and avoids a protobuf runtime dependency.
// Field numbers follow onnx/onnx.proto (IR version 8, opset 13).

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function varint(value: number | bigint): number[] {
  // Negative int64 values are written as 10-byte two's complement, as protobuf requires.
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

class Message {
  private readonly parts: number[][] = [];
  private readonly blobs: { at: number; bytes: Uint8Array }[] = [];

  private tag(no: number, wire: number): void {
    this.parts.push(varint((no << 3) | wire));
  }

  int(no: number, value: number | bigint): this {
    this.tag(no, WIRE_VARINT);
    this.parts.push(varint(value));
    return this;
  }

  float(no: number, value: number): this {
    this.tag(no, WIRE_I32);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.parts.push([...b]);
    return this;
  }

  bytes(no: number, bytes: Uint8Array): this {
    this.tag(no, WIRE_LEN);
    this.parts.push(varint(bytes.length));
    this.blobs.push({ at: this.parts.length, bytes });
    this.parts.push([]);
    return this;
  }

  string(no: number, s: string): this {
    return this.bytes(no, Buffer.from(s, 'utf8'));
  }

  message(no: number, m: Message): this {
    return this.bytes(no, m.encode());
  }

  packedInts(no: number, values: readonly (number | bigint)[]): this {
    return this.bytes(no, Uint8Array.from(values.flatMap((v) => varint(v))));
  }

  encode(): Uint8Array {
    const chunks: Uint8Array[] = this.parts.map((p) => Uint8Array.from(p));
    for (const { at, bytes } of this.blobs) chunks[at] = bytes;
    return Buffer.concat(chunks);
  }
}

/** onnx.proto's TensorProto.DataType values for the element types facegate's graphs use. */
export const DataType = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;
export type ElementType = keyof typeof DataType;

export type TensorData = { dims: readonly number[] } & (
  | { type: 'float32'; data: Float32Array }
  | { type: 'uint8'; data: Uint8Array }
  | { type: 'int8'; data: Int8Array }
  | { type: 'int32'; data: Int32Array }
  | { type: 'int64'; data: BigInt64Array }
);

function tensorProto(name: string, t: TensorData): Message {
  const m = new Message();
  m.packedInts(1, t.dims);
  m.int(2, DataType[t.type]);
  m.string(8, name);
  // raw_data is little-endian, which is what typed arrays are on every platform we ship to.
  m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return m;
}

export type AttributeValue = number | readonly number[] | string | { float: number };

function attributeProto(name: string, value: AttributeValue): Message {
  const m = new Message().string(1, name);
  if (typeof value === 'string') return m.bytes(4, Buffer.from(value)).int(20, 3);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use {float} for non-integers`);
    return m.int(3, value).int(20, 2);
  }
  if ('float' in value) return m.float(2, value.float).int(20, 1);
  for (const v of value) m.int(8, v);
  return m.int(20, 7);
}

/** A dimension: a fixed size or a symbolic name such as "batch". */
export type Dim = number | string;

function valueInfo(name: string, dims: readonly Dim[], type: ElementType = 'float32'): Message {
  const shape = new Message();
  for (const d of dims) {
    const dim = new Message();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new Message().int(1, DataType[type]).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

function sameTensor(a: TensorData, b: TensorData): boolean {
  if (a.type !== b.type || a.dims.join() !== b.dims.join()) return false;
  const bytes = (t: TensorData) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return bytes(a).equals(bytes(b));
}

/**
 * Builds an ONNX graph node by node. Names are generated in insertion order, so the same
 * sequence of calls always gives the same bytes.
 */
export class GraphBuilder {
  private readonly nodes: Message[] = [];
  private readonly initializers: Message[] = [];
  private readonly initializerData = new Map<string, TensorData>();
  private readonly inputs: Message[] = [];
  private readonly outputs: Message[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, dims: readonly Dim[], type: ElementType = 'float32'): string {
    this.inputs.push(valueInfo(name, dims, type));
    return name;
  }

  output(name: string, dims: readonly Dim[], type: ElementType = 'float32'): void {
    this.outputs.push(valueInfo(name, dims, type));
  }

  /**
   * An initializer. Declaring the same tensor again under its name returns that name, so a
   * subgraph built several times (the detector's network, once per pyramid level) shares its
   * weights; a different tensor under a name already used is an error.
   */
  constant(name: string, t: TensorData): string {
    const existing = this.initializerData.get(name);
    if (existing) {
      if (!sameTensor(existing, t))
        throw new Error(`initializer ${name}: declared twice with different values`);
      return name;
    }
    this.initializerData.set(name, t);
    this.initializers.push(tensorProto(name, t));
    return name;
  }

  floats(name: string, dims: readonly number[], data: Float32Array | readonly number[]): string {
    const arr = data instanceof Float32Array ? data : Float32Array.from(data);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (arr.length !== expected) {
      throw new Error(`initializer ${name}: ${arr.length} values for shape [${dims.join(',')}]`);
    }
    return this.constant(name, { type: 'float32', dims, data: arr });
  }

  int64s(name: string, values: readonly number[]): string {
    return this.constant(name, {
      type: 'int64',
      dims: [values.length],
      data: BigInt64Array.from(values.map((v) => BigInt(v))),
    });
  }

  /**
   * Adds a node and returns the name of its first output: `outputName` when given (a list for
   * ops with several outputs, such as TopK), else a generated one.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    outputName?: string | readonly string[],
  ): string {
    const id = this.counter++;
    const outs =
      typeof outputName === 'string' ? [outputName] : (outputName ?? [`${opType.toLowerCase()}_${id}`]);
    const m = new Message();
    for (const i of inputs) m.string(1, i);
    for (const o of outs) m.string(2, o);
    const out = outs[0]!;
    m.string(3, `${opType}_${id}`);
    m.string(4, opType);
    for (const [k, v] of Object.entries(attributes)) m.message(5, attributeProto(k, v));
    this.nodes.push(m);
    return out;
  }

  toModel(meta: { producer: string; version: string; doc: string }): Uint8Array {
    const graph = new Message();
    for (const n of this.nodes) graph.message(1, n);
    graph.string(2, this.name);
    for (const i of this.initializers) graph.message(5, i);
    for (const i of this.inputs) graph.message(11, i);
    for (const o of this.outputs) graph.message(12, o);

    const model = new Message();
    model.int(1, 8); // IR version 8
    model.string(2, meta.producer);
    model.string(3, meta.version);
    model.string(6, meta.doc);
    model.message(7, graph);
    model.message(8, new Message().string(1, '').int(2, 13)); // default domain, opset 13
    return model.encode();
  }
}
