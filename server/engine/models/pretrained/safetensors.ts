// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the raw
// little-endian tensor bytes, offsets relative to the end of the header. Floats of any
// width are read as float32; integer tensors (e.g. position_ids buffers) are reported and skipped.
// The writer lives beside this file (safetensors-writer.ts).

export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export interface SafetensorsTensor {
  readonly dtype: FloatDtype;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface ParsedSafetensors {
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors not read: non-float dtypes. */
  readonly skipped: readonly string[];
}

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
  U16: 2,
  U32: 4,
  U64: 8,
};
/** A header larger than this is not a header: refuse before decoding it as text. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const conversion = new DataView(new ArrayBuffer(4));

export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** float32 -> IEEE half bits, round to nearest even (subnormals, overflow to infinity). */
export function floatToHalf(value: number): number {
  conversion.setFloat32(0, value, true);
  const bits = conversion.getUint32(0, true);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  const [significand, shift] = halfExponent <= 0 ? [mantissa | 0x800000, 14 - halfExponent] : [mantissa, 13];
  if (shift > 24) return sign;
  let half = significand >>> shift;
  const remainder = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half += 1;
  // A carry out of the mantissa correctly bumps the exponent.
  return halfExponent <= 0 ? sign | half : sign | ((halfExponent << 10) + half);
}

function readFloats(bytes: Uint8Array, dtype: FloatDtype, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'F32':
        values[i] = view.getFloat32(i * 4, true);
        break;
      case 'F64':
        values[i] = view.getFloat64(i * 8, true);
        break;
      case 'F16':
        values[i] = halfToFloat(view.getUint16(i * 2, true));
        break;
      case 'BF16':
        conversion.setUint32(0, view.getUint16(i * 2, true) << 16, true);
        values[i] = conversion.getFloat32(0, true);
        break;
    }
  }
  return values;
}

const isFloatDtype = (dtype: string): dtype is FloatDtype => dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';

export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  if (bytes.byteLength < 8) throw new Error('safetensors file is shorter than its 8-byte header length');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.byteLength) {
    throw new Error(`safetensors header length ${headerLength} does not fit the ${bytes.byteLength}-byte file`);
  }
  const header: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('safetensors header is not a JSON object');
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map<string, SafetensorsTensor>();
  const skipped: string[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
    const valid =
      typeof dtype === 'string' &&
      dtype in SAFETENSORS_DTYPE_BYTES &&
      Array.isArray(shape) &&
      shape.every((size) => Number.isInteger(size) && size >= 0) &&
      Array.isArray(offsets) &&
      offsets.length === 2 &&
      offsets.every((offset) => Number.isInteger(offset));
    if (!valid) throw new Error(`safetensors entry '${name}' is malformed`);
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((product, size) => product * size, 1);
    if (!(begin >= 0 && begin <= end && end <= data.byteLength) || end - begin !== count * SAFETENSORS_DTYPE_BYTES[dtype]) {
      throw new Error(`safetensors entry '${name}' has offsets [${begin}, ${end}] that do not match ${dtype} [${shape}]`);
    }
    if (!isFloatDtype(dtype)) {
      skipped.push(name);
      continue;
    }
    tensors.set(name, { dtype, shape: shape as number[], values: readFloats(data.subarray(begin, end), dtype, count) });
  }
  return { tensors, metadata, skipped };
}
