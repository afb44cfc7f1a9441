// IDX reader (the MNIST file format: http://yann.lecun.com/exdb/mnist/). Layout: two zero
// bytes, a type code, the number of dimensions, then each dimension as a big-endian uint32,
// then the data, big-endian, row-major. Files may be gzip-compressed (Debian ships .gz).

import { gunzipSync } from 'node:zlib';

import type { ExampleSet } from '../engine/tf-free.js';
import type { ViolationCollector } from './errors.js';
import type { DataLimits } from './limits.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: IdxData;
}

interface IdxType {
  readonly bytes: number;
  readonly create: (length: number) => IdxData;
  readonly read: (view: DataView, offset: number) => number;
}

const IDX_TYPES: ReadonlyMap<number, IdxType> = new Map<number, IdxType>([
  [0x08, { bytes: 1, create: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) }],
  [0x09, { bytes: 1, create: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) }],
  [0x0b, { bytes: 2, create: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o, false) }],
  [0x0c, { bytes: 4, create: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o, false) }],
  [0x0d, { bytes: 4, create: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o, false) }],
  [0x0e, { bytes: 8, create: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o, false) }],
]);

function gunzipIfNeeded(bytes: Uint8Array, field: string, limits: DataLimits, violations: ViolationCollector): Uint8Array | undefined {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    // The cap stops a small gzip bomb from expanding past the byte limit.
    return new Uint8Array(gunzipSync(bytes, { maxOutputLength: limits.maxBytes }));
  } catch (error) {
    const tooBig = error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    violations.add(field, tooBig ? `decompresses to more than ${limits.maxBytes} bytes` : 'is not valid gzip data');
    return undefined;
  }
}

/** Parses an IDX file (gzip-compressed or not); undefined after recording a violation on `field`. */
export function parseIdx(raw: Uint8Array, field: string, limits: DataLimits, violations: ViolationCollector): IdxArray | undefined {
  const bytes = gunzipIfNeeded(raw, field, limits, violations);
  if (!bytes) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    violations.add(field, 'is not an IDX file (it must start with two zero bytes)');
    return undefined;
  }
  const type = IDX_TYPES.get(bytes[2] ?? -1);
  const rank = bytes[3] ?? 0;
  if (!type) {
    violations.add(field, `has unknown IDX type code 0x${(bytes[2] ?? 0).toString(16)}`);
    return undefined;
  }
  const headerBytes = 4 + 4 * rank;
  if (rank === 0 || bytes.byteLength < headerBytes) {
    violations.add(field, `has a truncated IDX header (${rank} dimensions)`);
    return undefined;
  }
  const dims = Array.from({ length: rank }, (_, axis) => view.getUint32(4 + 4 * axis, false));
  const length = dims.reduce((product, dim) => product * dim, 1);
  const expectedBytes = headerBytes + length * type.bytes;
  if (expectedBytes !== bytes.byteLength) {
    violations.add(field, `dimensions [${dims.join(', ')}] need ${expectedBytes} bytes, the file has ${bytes.byteLength}`);
    return undefined;
  }
  if ((dims[0] ?? 0) > limits.maxRows) {
    violations.add(field, `has ${dims[0]} rows; the limit is ${limits.maxRows}`);
    return undefined;
  }
  const data = type.create(length);
  if (type.bytes === 1 && data instanceof Uint8Array) data.set(bytes.subarray(headerBytes));
  else for (let index = 0; index < length; index += 1) data[index] = type.read(view, headerBytes + index * type.bytes);
  return { dims, data };
}

export interface IdxFields {
  /** Field names for violations, e.g. `images` and `labels`, or `validation.images`. */
  readonly images: string;
  readonly labels: string;
}

/**
 * Pairs an images array [N, ...] with a labels array [N] as an ExampleSet. Unsigned-byte
 * images are scaled to [0, 1]; other types are taken as they are and must be finite.
 * `numClasses` defaults to the largest label + 1.
 */
export function idxToExamples(
  images: IdxArray,
  labels: IdxArray,
  fields: IdxFields,
  limits: DataLimits,
  violations: ViolationCollector,
  classNames?: readonly string[],
): ExampleSet | undefined {
  const before = violations.count;
  const count = images.dims[0] ?? 0;
  const dim = images.dims.slice(1).reduce((product, size) => product * size, 1);
  if (dim > limits.maxFeatureDim) violations.add(fields.images, `has ${dim} values per row; the limit is ${limits.maxFeatureDim}`);
  if (labels.dims.length !== 1) violations.add(fields.labels, `must be 1-dimensional, got [${labels.dims.join(', ')}]`);
  if (labels.data instanceof Float32Array || labels.data instanceof Float64Array) {
    violations.add(fields.labels, 'must hold integers, not floats');
  }
  if (labels.dims[0] !== count) violations.add(fields.labels, `has ${labels.dims[0]} labels for ${count} images`);
  if (violations.count !== before) return undefined;

  const labelValues = Array.from(labels.data);
  const maxLabel = labelValues.reduce((max, label) => Math.max(max, label), 0);
  const numClasses = classNames?.length ?? maxLabel + 1;
  if (numClasses > limits.maxClasses) {
    violations.add(fields.labels, `class ids go up to ${numClasses - 1}; the limit is ${limits.maxClasses} classes`);
    return undefined;
  }
  labelValues.forEach((label, row) => {
    if (label < 0 || label >= numClasses) {
      violations.add(`${fields.labels}[${row}]`, `class id ${label} is outside [0, ${numClasses})`);
    }
  });
  const divisor = images.data instanceof Uint8Array ? 255 : 1;
  const values = new Float32Array(images.data.length);
  for (let index = 0; index < values.length; index += 1) {
    const value = (images.data[index] ?? 0) / divisor;
    if (!Number.isFinite(value)) {
      violations.add(`${fields.images}[${Math.floor(index / dim)}]`, `value ${index % dim} is not finite`);
    }
    values[index] = value;
  }
  if (violations.count !== before) return undefined;
  const base = { inputs: { kind: 'features', values, dim } as const, labels: Int32Array.from(labelValues), numClasses };
  return classNames === undefined ? base : { ...base, classNames };
}
