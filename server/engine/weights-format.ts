import type * as tf from '@tensorflow/tfjs';
import type { NamedWeight, Weights } from './types.js';

// Weights <-> TF.js's weights format: a list of specs (name, shape, dtype) plus one buffer
// holding every tensor's bytes back to back, in spec order. This is what tf.io.ModelArtifacts
// carries and what model.json + weights.bin store, so TF.js tooling can read our exports.
// Pure data transformation: jobs/ does the file I/O.

export interface EncodedWeights {
  readonly weightSpecs: tf.io.WeightsManifestEntry[];
  readonly weightData: ArrayBuffer;
}

export const WEIGHTS_FILE_NAME = 'weights.bin';

/** Specs and one concatenated little-endian float32 buffer (the platform order TF.js writes). */
export function encodeWeights(weights: Weights): EncodedWeights {
  const names = new Set<string>();
  let totalValues = 0;
  for (const weight of weights) {
    if (names.has(weight.name)) throw new Error(`duplicate weight name '${weight.name}'`);
    names.add(weight.name);
    const expected = weight.shape.reduce((product, size) => product * size, 1);
    if (expected !== weight.values.length) {
      throw new Error(`weight '${weight.name}' has ${weight.values.length} values for shape [${weight.shape}]`);
    }
    totalValues += expected;
  }
  const packed = new Float32Array(totalValues);
  let offset = 0;
  for (const weight of weights) {
    packed.set(weight.values, offset);
    offset += weight.values.length;
  }
  return {
    weightSpecs: weights.map((weight) => ({ name: weight.name, shape: [...weight.shape], dtype: 'float32' })),
    weightData: packed.buffer,
  };
}

/** The `weightsManifest` entry of a model.json whose weights live in one file beside it. */
export function weightsManifest(weightSpecs: tf.io.WeightsManifestEntry[], path: string = WEIGHTS_FILE_NAME): tf.io.WeightsManifestConfig {
  return [{ paths: [path], weights: weightSpecs }];
}

function concatenate(data: tf.io.WeightData): ArrayBuffer {
  if (!Array.isArray(data)) return data;
  const total = data.reduce((sum, part) => sum + part.byteLength, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of data) {
    joined.set(new Uint8Array(part), offset);
    offset += part.byteLength;
  }
  return joined.buffer;
}

/** IEEE 754 half -> float. */
function halfToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const BYTES_PER_STORED_VALUE = { float32: 4, int32: 4, uint16: 2, float16: 2, uint8: 1 } as const;

/** Reads `count` values at byte `offset` as float32, dequantizing or widening as the spec says. */
function readValues(bytes: ArrayBuffer, offset: number, count: number, spec: tf.io.WeightsManifestEntry): Float32Array {
  const quantization = spec.quantization;
  if (quantization === undefined) {
    if (spec.dtype === 'float32') return new Float32Array(bytes.slice(offset, offset + count * 4));
    if (spec.dtype === 'int32') return Float32Array.from(new Int32Array(bytes.slice(offset, offset + count * 4)));
    throw new Error(`weight '${spec.name}' has dtype ${spec.dtype}: only float32 and int32 are supported`);
  }
  if (spec.dtype !== 'float32') throw new Error(`weight '${spec.name}': quantized ${spec.dtype} is not supported`);
  const width = BYTES_PER_STORED_VALUE[quantization.dtype];
  const stored = bytes.slice(offset, offset + count * width);
  if (quantization.dtype === 'float16') return Float32Array.from(new Uint16Array(stored), halfToFloat);
  const { scale = 1, min = 0 } = quantization;
  const codes = quantization.dtype === 'uint8' ? new Uint8Array(stored) : new Uint16Array(stored);
  return Float32Array.from(codes, (code) => code * scale + min);
}

function storedByteLength(spec: tf.io.WeightsManifestEntry, count: number): number {
  return count * (spec.quantization ? BYTES_PER_STORED_VALUE[spec.quantization.dtype] : 4);
}

/**
 * Weights from specs + buffer (or the buffer's shards, in order). The values are copies, so
 * the buffer can be reused. Sizes must add up exactly: a short or long buffer is an error.
 */
export function decodeWeights(weightSpecs: readonly tf.io.WeightsManifestEntry[], data: tf.io.WeightData): Weights {
  const bytes = concatenate(data);
  let offset = 0;
  const weights: NamedWeight[] = weightSpecs.map((spec) => {
    const count = spec.shape.reduce((product, size) => product * size, 1);
    const length = storedByteLength(spec, count);
    if (offset + length > bytes.byteLength) {
      throw new Error(`weight data ends at byte ${bytes.byteLength}, '${spec.name}' needs bytes up to ${offset + length}`);
    }
    const values = readValues(bytes, offset, count, spec);
    offset += length;
    return { name: spec.name, shape: [...spec.shape], values };
  });
  if (offset !== bytes.byteLength) {
    throw new Error(`weight data has ${bytes.byteLength - offset} bytes beyond the ${weightSpecs.length} specs`);
  }
  return weights;
}
