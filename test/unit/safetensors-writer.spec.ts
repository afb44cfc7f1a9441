import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSafetensors } from '../../server/engine/models/pretrained/safetensors.js';
import {
  encodeSafetensors,
  safetensorsHeader,
  safetensorsParts,
  type TensorToWrite,
} from '../../server/engine/models/pretrained/safetensors-writer.js';

const tensors: TensorToWrite[] = [
  { name: 'mlp/dense0/kernel', shape: [2, 3], values: Float32Array.of(1, -2, 3.5, 0, 1e-7, -0) },
  { name: 'head/bias', shape: [3], values: Float32Array.of(0.25, Number.MAX_VALUE, -1) },
  { name: 'empty', shape: [0, 4], values: new Float32Array(0) },
];

describe('safetensors writer', () => {
  it('writes what the reader reads back bit for bit, with metadata', () => {
    const parsed = parseSafetensors(encodeSafetensors(tensors, 'F32', { format: 'steadytune' }));
    assert.deepEqual(parsed.metadata, { format: 'steadytune' });
    for (const tensor of tensors) {
      const read = parsed.tensors.get(tensor.name);
      assert.ok(read, tensor.name);
      assert.deepEqual(read.shape, tensor.shape);
      assert.deepEqual(Array.from(read.values), Array.from(tensor.values));
    }
  });

  it('lays out the file as the format says: u64 LE header length, JSON padded to 8 bytes, raw LE floats', () => {
    const bytes = encodeSafetensors(tensors.slice(0, 1));
    const view = new DataView(bytes.buffer);
    const headerLength = Number(view.getBigUint64(0, true));
    assert.equal((8 + headerLength) % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    assert.deepEqual(header['mlp/dense0/kernel'], { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    assert.equal(bytes.byteLength, 8 + headerLength + 24);
    assert.equal(view.getFloat32(8 + headerLength + 8, true), 3.5);
  });

  it('streams the same bytes part by part: the header first, then one part per tensor', () => {
    const parts = [...safetensorsParts(tensors, 'BF16')];
    assert.equal(parts.length, 1 + tensors.length);
    assert.deepEqual(parts[0], safetensorsHeader(tensors, 'BF16'));
    assert.deepEqual(Buffer.concat(parts), Buffer.from(encodeSafetensors(tensors, 'BF16')));
  });

  it('refuses repeated or reserved names and values that do not fill the shape', () => {
    const one = tensors[1];
    assert.ok(one);
    assert.throws(() => encodeSafetensors([one, one]), /repeated/);
    assert.throws(() => encodeSafetensors([{ ...one, name: '__metadata__' }]), /reserved/);
    assert.throws(() => encodeSafetensors([{ ...one, shape: [4] }]), /3 values for shape \[4\]/);
  });
});
