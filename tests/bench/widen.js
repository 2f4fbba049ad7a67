// Widening an ONNX model's float16 weights to float32 before a WASM session is created.
// Bench-only (tests/bench/widen.py): the app did this until it moved WASM sessions to
// onnxruntime-web's plain build, which runs the float16 file as fast. What follows was
// measured on the JSEP build.
//
// The "Best" model ships as float16 (88 MB instead of 176 MB to download and cache), with
// Cast nodes around a graph that computes in float16. onnxruntime-web's CPU kernels compute in
// float32 anyway, so on WASM it inserts casts of its own: session creation took 4.4 s instead
// of 1.2 s, and the first run 22.7 s instead of 10.5 s, with outputs that agree to 7e-7
// (measured on this machine, 2 threads). Widening here costs a few hundred milliseconds.
//
// Only what float16 touches is rewritten, in the protobuf's own bytes: float16 initializers
// (data type 10 -> 1, raw_data converted), Cast nodes' `to` (10 -> 1), and the graph's
// value_info (the exporter's inferred types; onnxruntime infers them again). Everything else is
// copied byte for byte. A graph that holds float16 anywhere else is left as it came.

const FLOAT = 1;
const FLOAT16 = 10;

// Field numbers from onnx.proto3.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_VALUE_INFO = 13;
const GRAPH_SPARSE_INITIALIZER = 15;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE_NAME = 1;
const ATTRIBUTE_INT = 3;
const ATTRIBUTE_TENSOR = 5;
const ATTRIBUTE_GRAPH = 6;
const ATTRIBUTE_GRAPHS = 11;
const TENSOR_DATA_TYPE = 2;
const TENSOR_INT32_DATA = 5;
const TENSOR_RAW_DATA = 9;

class Unsupported extends Error {}

function readVarint(bytes, offset) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (offset >= bytes.length) throw new Unsupported('a truncated varint');
    const byte = bytes[offset];
    offset += 1;
    value += (byte & 0x7f) * scale; // plain arithmetic: lengths can pass 2^31
    if (byte < 0x80) return [value, offset];
    scale *= 128;
  }
}

function varintBytes(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Uint8Array.from(out);
}

/** Each field of the message in bytes[start, end): {field, wire, keyStart, start, end, value}
 *  (start/end delimit a length-delimited value; value is a varint's number). */
function* fields(bytes, start, end) {
  let offset = start;
  while (offset < end) {
    const keyStart = offset;
    let key;
    [key, offset] = readVarint(bytes, offset);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    let value = null;
    let valueStart = offset;
    if (wire === 0) {
      [value, offset] = readVarint(bytes, offset);
    } else if (wire === 2) {
      let length;
      [length, valueStart] = readVarint(bytes, offset);
      offset = valueStart + length;
    } else if (wire === 1) {
      offset += 8;
    } else if (wire === 5) {
      offset += 4;
    } else {
      throw new Unsupported(`protobuf wire type ${wire}`);
    }
    if (offset > end) throw new Unsupported('a field past its message');
    yield { field, wire, keyStart, start: valueStart, end: offset, value };
  }
}

const decoder = new TextDecoder();
const text = (bytes, f) => decoder.decode(bytes.subarray(f.start, f.end));

// A plan is a list of pieces: a slice to copy, float16 raw data to write as float32, or new
// bytes. Sizes are known before anything is written, so the result is allocated once.
const copy = (bytes, start, end) => ({ kind: 'copy', bytes, start, end, size: end - start });
const literal = (data) => ({ kind: 'bytes', data, size: data.length });
const widened = (bytes, start, end) => ({ kind: 'widen', bytes, start, end, size: 2 * (end - start) });
const sizeOf = (pieces) => pieces.reduce((sum, piece) => sum + piece.size, 0);

/** Pieces for a length-delimited field whose value is `inner`. */
function message(field, inner) {
  return [literal(varintBytes(field * 8 + 2)), literal(varintBytes(sizeOf(inner))), ...inner];
}

function tensorPieces(bytes, tensor) {
  const parts = [...fields(bytes, tensor.start, tensor.end)];
  const isHalf = parts.some((f) => f.field === TENSOR_DATA_TYPE && f.value === FLOAT16);
  if (!isHalf) return null;
  if (parts.some((f) => f.field === TENSOR_INT32_DATA)) throw new Unsupported('float16 in int32_data');
  const inner = [];
  for (const f of parts) {
    if (f.field === TENSOR_DATA_TYPE) {
      inner.push(literal(varintBytes(TENSOR_DATA_TYPE * 8)), literal(varintBytes(FLOAT)));
    } else if (f.field === TENSOR_RAW_DATA) {
      inner.push(...message(TENSOR_RAW_DATA, [widened(bytes, f.start, f.end)]));
    } else {
      inner.push(copy(bytes, f.keyStart, f.end));
    }
  }
  return inner;
}

/** The node's pieces: a Cast to float16 becomes a Cast to float; a float16 tensor attribute
 *  anywhere is not handled. */
function nodePieces(bytes, node) {
  const parts = [...fields(bytes, node.start, node.end)];
  const opType = parts.find((f) => f.field === NODE_OP_TYPE);
  const isCast = opType && text(bytes, opType) === 'Cast';
  const inner = [];
  for (const f of parts) {
    if (f.field !== NODE_ATTRIBUTE) {
      inner.push(copy(bytes, f.keyStart, f.end));
      continue;
    }
    const attribute = [...fields(bytes, f.start, f.end)];
    for (const a of attribute) {
      if (a.field === ATTRIBUTE_TENSOR && tensorPieces(bytes, a)) {
        throw new Unsupported('a float16 tensor attribute');
      }
      // A subgraph (If, Loop, Scan) would keep its own float16 weights and casts.
      if (a.field === ATTRIBUTE_GRAPH || a.field === ATTRIBUTE_GRAPHS) throw new Unsupported('a subgraph');
    }
    const name = attribute.find((a) => a.field === ATTRIBUTE_NAME);
    if (!(isCast && name && text(bytes, name) === 'to')) {
      inner.push(copy(bytes, f.keyStart, f.end));
      continue;
    }
    const rewritten = attribute.map((a) => (a.field === ATTRIBUTE_INT && a.value === FLOAT16
      ? [literal(varintBytes(ATTRIBUTE_INT * 8)), literal(varintBytes(FLOAT))]
      : [copy(bytes, a.keyStart, a.end)]));
    inner.push(...message(NODE_ATTRIBUTE, rewritten.flat()));
  }
  return inner;
}

function graphPieces(bytes, graph) {
  const inner = [];
  let changed = false;
  for (const f of fields(bytes, graph.start, graph.end)) {
    if (f.field === GRAPH_INITIALIZER) {
      const tensor = tensorPieces(bytes, f);
      changed ||= Boolean(tensor);
      inner.push(...(tensor ? message(GRAPH_INITIALIZER, tensor) : [copy(bytes, f.keyStart, f.end)]));
    } else if (f.field === GRAPH_NODE) {
      inner.push(...message(GRAPH_NODE, nodePieces(bytes, f)));
    } else if (f.field === GRAPH_SPARSE_INITIALIZER) {
      throw new Unsupported('sparse initializers');
    } else if (f.field !== GRAPH_VALUE_INFO) {
      inner.push(copy(bytes, f.keyStart, f.end));
    }
  }
  return changed ? inner : null;
}

// float16 bit pattern -> float32 bit pattern, for all 65536 patterns (256 KiB, built once).
let halfToFloatBits = null;

function conversionTable() {
  if (halfToFloatBits) return halfToFloatBits;
  const table = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let half = 0; half < 65536; half += 1) {
    const sign = half >> 15;
    const exponent = (half >> 10) & 0x1f;
    const mantissa = half & 0x3ff;
    if (exponent === 0) {
      scratch[0] = (sign ? -1 : 1) * mantissa * 2 ** -24; // zero and subnormals, exactly
      table[half] = scratchBits[0];
    } else if (exponent === 31) {
      table[half] = (sign << 31) | 0x7f800000 | (mantissa << 13); // inf and NaN
    } else {
      table[half] = (sign << 31) | ((exponent + 112) << 23) | (mantissa << 13);
    }
  }
  halfToFloatBits = table;
  return table;
}

function writeWidened(piece, out, offset) {
  const table = conversionTable();
  const count = (piece.end - piece.start) / 2;
  const src = piece.bytes;
  // An aligned view when the output offset allows it; little-endian bytes otherwise.
  if (offset % 4 === 0) {
    const dst = new Uint32Array(out.buffer, out.byteOffset + offset, count);
    for (let i = 0, j = piece.start; i < count; i += 1, j += 2) dst[i] = table[src[j] | (src[j + 1] << 8)];
    return;
  }
  for (let i = 0, j = piece.start, k = offset; i < count; i += 1, j += 2, k += 4) {
    const bits = table[src[j] | (src[j + 1] << 8)];
    out[k] = bits & 0xff;
    out[k + 1] = (bits >>> 8) & 0xff;
    out[k + 2] = (bits >>> 16) & 0xff;
    out[k + 3] = bits >>> 24;
  }
}

/**
 * The ONNX model `bytes` with its float16 weights and casts widened to float32.
 *
 * @param {Uint8Array} bytes a serialized ModelProto
 * @returns {Uint8Array} a new model, or `bytes` itself when it holds no float16 weights or
 *   holds float16 somewhere this does not rewrite (the session then widens as before)
 */
export function widenFloat16(bytes) {
  let plan;
  try {
    const top = [...fields(bytes, 0, bytes.length)];
    plan = [];
    let changed = false;
    for (const f of top) {
      const graph = f.field === MODEL_GRAPH && f.wire === 2 ? graphPieces(bytes, f) : null;
      changed ||= Boolean(graph);
      plan.push(...(graph ? message(MODEL_GRAPH, graph) : [copy(bytes, f.keyStart, f.end)]));
    }
    if (!changed) return bytes;
  } catch (error) {
    if (error instanceof Unsupported) return bytes;
    throw error;
  }
  const out = new Uint8Array(sizeOf(plan));
  let offset = 0;
  for (const piece of plan) {
    if (piece.kind === 'copy') out.set(piece.bytes.subarray(piece.start, piece.end), offset);
    else if (piece.kind === 'bytes') out.set(piece.data, offset);
    else writeWidened(piece, out, offset);
    offset += piece.size;
  }
  return out;
}
