// Writes the safetensors format (layout in safetensors.ts, the reader). Pure: bytes out, no
// I/O. Output comes part by part (header, then each tensor's bytes) so a caller can stream a
// large model without holding a second whole copy; encodeSafetensors joins the parts.
import { floatToHalf, SAFETENSORS_DTYPE_BYTES } from './safetensors.js';

export type WritableDtype = 'F32' | 'F16' | 'BF16';

export interface TensorToWrite {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

const METADATA_KEY = '__metadata__';

function checkTensors(tensors: readonly TensorToWrite[]): void {
  const names = new Set<string>();
  for (const { name, shape, values } of tensors) {
    if (name === METADATA_KEY || name === '' || names.has(name))
      throw new Error(`safetensors tensor name '${name}' is reserved, empty or repeated`);
    names.add(name);
    if (!shape.every((size) => Number.isInteger(size) && size >= 0)) throw new Error(`tensor '${name}' has a bad shape [${shape}]`);
    const count = shape.reduce((product, size) => product * size, 1);
    if (count !== values.length) throw new Error(`tensor '${name}' has ${values.length} values for shape [${shape}]`);
  }
}

/**
 * The 8-byte little-endian header length, then the JSON header padded with spaces so the data
 * starts 8-byte aligned (as the format recommends). Tensors are laid out in the given order.
 */
export function safetensorsHeader(
  tensors: readonly TensorToWrite[],
  dtype: WritableDtype = 'F32',
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  checkTensors(tensors);
  const width = SAFETENSORS_DTYPE_BYTES[dtype] ?? 4;
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { [METADATA_KEY]: metadata } : {};
  let offset = 0;
  for (const tensor of tensors) {
    header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.values.length * width] };
    offset += tensor.values.length * width;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = json.byteLength + ((8 - ((8 + json.byteLength) % 8)) % 8);
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return bytes;
}

const conversion = new DataView(new ArrayBuffer(4));

/** One tensor's values as little-endian bytes of `dtype` (F16 and BF16 round to nearest even). */
export function tensorBytes(values: Float32Array, dtype: WritableDtype = 'F32'): Uint8Array {
  const width = SAFETENSORS_DTYPE_BYTES[dtype] ?? 4;
  const bytes = new Uint8Array(values.length * width);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    const at = i * width;
    if (dtype === 'F32') view.setFloat32(at, values[i] ?? 0, true);
    else if (dtype === 'F16') view.setUint16(at, floatToHalf(values[i] ?? 0), true);
    else {
      conversion.setFloat32(0, values[i] ?? 0, true);
      const bits = conversion.getUint32(0, true);
      view.setUint16(at, ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff, true);
    }
  }
  return bytes;
}

/** The file as parts: the header, then each tensor's bytes in order. */
export function* safetensorsParts(
  tensors: readonly TensorToWrite[],
  dtype: WritableDtype = 'F32',
  metadata: Readonly<Record<string, string>> = {},
): Generator<Uint8Array> {
  yield safetensorsHeader(tensors, dtype, metadata);
  for (const tensor of tensors) yield tensorBytes(tensor.values, dtype);
}

/** The whole file in one buffer (tests, small models). */
export function encodeSafetensors(
  tensors: readonly TensorToWrite[],
  dtype: WritableDtype = 'F32',
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const parts = [...safetensorsParts(tensors, dtype, metadata)];
  const bytes = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}
