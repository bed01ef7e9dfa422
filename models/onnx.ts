/**
 * Reads what the product needs from an ONNX file without a runtime: the custom metadata (`metadata_props`,
 * where Ultralytics writes its class `names`) and the graph's input/output shapes. onnxruntime-node does not
 * expose custom metadata, so this walks the protobuf itself: only the few fields below are decoded, every
 * other field (nodes, weights) is skipped by its length, which also makes a truncated file easy to spot.
 *
 *   ModelProto       1 ir_version (varint), 2 producer_name, 7 graph, 14 metadata_props
 *   StringStringEntry 1 key, 2 value
 *   GraphProto       5 initializer (TensorProto: 8 name), 11 input, 12 output
 *   ValueInfoProto   1 name, 2 type -> TypeProto 1 tensor_type -> 1 elem_type, 2 shape -> 1 dim -> 1 dim_value | 2 dim_param
 */
import fs from 'node:fs/promises';

export interface OnnxTensorInfo {
  name: string;
  /** ONNX TensorProto.DataType (1 = float32) */
  elemType: number;
  /** a number for a fixed size, a string for a symbolic one, -1 when unknown */
  dims: Array<number | string>;
}

export interface OnnxInfo {
  irVersion: number;
  producer: string;
  metadata: Record<string, string>;
  /** the graph inputs that are not initializers (the ones to feed) */
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
}

export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

interface Field {
  no: number;
  wire: number;
  /** varint value (wire 0) */
  int: number;
  /** payload bounds (wire 2) */
  start: number;
  end: number;
}

const utf8 = new TextDecoder('utf-8');

/** Walks the fields of one protobuf message in buf[start, end). Throws when a field runs past the end. */
function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let p = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw new OnnxFormatError('unexpected end of data (the file is truncated)');
      const b = buf[p++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new OnnxFormatError('malformed varint');
  };
  while (p < end) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0) throw new OnnxFormatError('field number 0');
    if (wire === 0) {
      yield { no, wire, int: varint(), start: 0, end: 0 };
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (p + n > end) throw new OnnxFormatError('unexpected end of data (the file is truncated)');
      p += n;
    } else if (wire === 2) {
      const len = varint();
      if (p + len > end) throw new OnnxFormatError('unexpected end of data (the file is truncated)');
      yield { no, wire, int: 0, start: p, end: p + len };
      p += len;
    } else {
      throw new OnnxFormatError(`unsupported protobuf wire type ${wire}`);
    }
  }
}

const str = (buf: Uint8Array, f: Field) => utf8.decode(buf.subarray(f.start, f.end));

function readValueInfo(buf: Uint8Array, f: Field): OnnxTensorInfo {
  const info: OnnxTensorInfo = { name: '', elemType: 0, dims: [] };
  for (const v of fields(buf, f.start, f.end)) {
    if (v.no === 1 && v.wire === 2) info.name = str(buf, v);
    else if (v.no === 2 && v.wire === 2) {
      for (const t of fields(buf, v.start, v.end)) {
        if (t.no !== 1 || t.wire !== 2) continue; // tensor_type
        for (const tt of fields(buf, t.start, t.end)) {
          if (tt.no === 1 && tt.wire === 0) info.elemType = tt.int;
          else if (tt.no === 2 && tt.wire === 2) {
            for (const d of fields(buf, tt.start, tt.end)) {
              if (d.no !== 1 || d.wire !== 2) continue;
              let dim: number | string = -1;
              for (const dv of fields(buf, d.start, d.end)) {
                if (dv.no === 1 && dv.wire === 0) dim = dv.int;
                else if (dv.no === 2 && dv.wire === 2) dim = str(buf, dv);
              }
              info.dims.push(dim);
            }
          }
        }
      }
    }
  }
  return info;
}

/** Parses an ONNX model held in memory. Throws OnnxFormatError when it is not a (complete) ONNX model. */
export function parseOnnx(buf: Uint8Array): OnnxInfo {
  if (buf.length === 0) throw new OnnxFormatError('the file is empty');
  const info: OnnxInfo = { irVersion: 0, producer: '', metadata: {}, inputs: [], outputs: [] };
  let graph: Field | null = null;
  for (const f of fields(buf, 0, buf.length)) {
    if (f.no === 1 && f.wire === 0) info.irVersion = f.int;
    else if (f.no === 2 && f.wire === 2) info.producer = str(buf, f);
    else if (f.no === 7 && f.wire === 2) graph = f;
    else if (f.no === 14 && f.wire === 2) {
      let key = '';
      let value = '';
      for (const kv of fields(buf, f.start, f.end)) {
        if (kv.no === 1 && kv.wire === 2) key = str(buf, kv);
        else if (kv.no === 2 && kv.wire === 2) value = str(buf, kv);
      }
      info.metadata[key] = value;
    }
  }
  if (!graph || info.irVersion === 0) throw new OnnxFormatError('not an ONNX model (no graph or IR version)');
  const initializers = new Set<string>();
  const inputs: OnnxTensorInfo[] = [];
  for (const g of fields(buf, graph.start, graph.end)) {
    if (g.wire !== 2) continue;
    if (g.no === 11) inputs.push(readValueInfo(buf, g));
    else if (g.no === 12) info.outputs.push(readValueInfo(buf, g));
    else if (g.no === 5) {
      for (const t of fields(buf, g.start, g.end)) if (t.no === 8 && t.wire === 2) initializers.add(str(buf, t));
    }
  }
  info.inputs = inputs.filter((i) => !initializers.has(i.name));
  if (info.inputs.length === 0 || info.outputs.length === 0) throw new OnnxFormatError('the graph has no inputs or no outputs');
  return info;
}

/** Reads and parses an ONNX file; errors name the file. */
export async function readOnnxInfo(file: string): Promise<OnnxInfo> {
  const buf = await fs.readFile(file);
  try {
    return parseOnnx(buf);
  } catch (e) {
    if (e instanceof OnnxFormatError) throw new OnnxFormatError(`${file}: ${e.message}`);
    throw e;
  }
}

/** "[1, 3, 416, 416]" for messages */
export function formatDims(dims: ReadonlyArray<number | string>): string {
  return '[' + dims.map((d) => (d === -1 ? '?' : String(d))).join(', ') + ']';
}
