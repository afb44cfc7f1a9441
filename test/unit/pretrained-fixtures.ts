// Shared by the pretrained-*.spec.ts files (not a spec itself): a tiny BERT checkpoint made up
// in Hugging Face's layout (PyTorch [out, in] kernels, HF tensor names) and a plain-JS BERT
// forward pass written from HF's semantics, independent of the engine's transformer.
import { seededRandom } from '../../server/engine/random.js';
import type { TensorToWrite } from '../../server/engine/models/pretrained/safetensors.js';

export const TINY_BERT_CONFIG = {
  model_type: 'bert', hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 16,
  max_position_embeddings: 12, type_vocab_size: 2, hidden_act: 'gelu_new', layer_norm_eps: 1e-5,
  vocab_size: 12, pad_token_id: 0,
} as const;

export const TINY_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'cat', 'sat', 'on', 'mat', '##s', 'dog'];

export function tinyBertTensors(seed: number, prefix = 'bert.'): TensorToWrite[] {
  const random = seededRandom(seed);
  const { hidden_size: h, intermediate_size: ff, max_position_embeddings: positions, type_vocab_size: types } = TINY_BERT_CONFIG;
  const tensor = (name: string, shape: number[], scale = 0.5, offset = 0): TensorToWrite => ({
    name: `${prefix}${name}`, shape,
    values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * (random.next() * 2 - 1)),
  });
  const linear = (name: string, out: number, input: number): TensorToWrite[] =>
    [tensor(`${name}.weight`, [out, input]), tensor(`${name}.bias`, [out], 0.1)];
  const norm = (name: string): TensorToWrite[] => [tensor(`${name}.weight`, [h], 0.2, 1), tensor(`${name}.bias`, [h], 0.1)];
  const tensors = [
    tensor('embeddings.word_embeddings.weight', [TINY_VOCAB.length, h]),
    tensor('embeddings.position_embeddings.weight', [positions, h]),
    tensor('embeddings.token_type_embeddings.weight', [types, h]),
    ...norm('embeddings.LayerNorm'),
  ];
  for (let i = 0; i < TINY_BERT_CONFIG.num_hidden_layers; i++) {
    const layer = `encoder.layer.${i}`;
    tensors.push(
      ...linear(`${layer}.attention.self.query`, h, h), ...linear(`${layer}.attention.self.key`, h, h),
      ...linear(`${layer}.attention.self.value`, h, h), ...linear(`${layer}.attention.output.dense`, h, h),
      ...norm(`${layer}.attention.output.LayerNorm`), ...linear(`${layer}.intermediate.dense`, ff, h),
      ...linear(`${layer}.output.dense`, h, ff), ...norm(`${layer}.output.LayerNorm`),
    );
  }
  tensors.push(...linear('pooler.dense', h, h));
  return tensors;
}

type Matrix = number[][];

/** x [n, in] W^T + b with W [out, in] (PyTorch Linear). */
function linear(x: Matrix, weights: Float32Array, bias: Float32Array): Matrix {
  const out = bias.length;
  const input = weights.length / out;
  return x.map((row) => Array.from({ length: out }, (_, o) => row.reduce((sum, value, i) => sum + value * weights[o * input + i], bias[o])));
}

function layerNorm(x: Matrix, gamma: Float32Array, beta: Float32Array, epsilon: number): Matrix {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    return row.map((value, k) => ((value - mean) / Math.sqrt(variance + epsilon)) * gamma[k] + beta[k]);
  });
}

const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** BertModel's last hidden states for one sequence of checkpoint ids (0 = [PAD] is masked as a key). */
export function referenceBertForward(tensors: ReadonlyMap<string, Float32Array>, ids: number[], segments?: number[], prefix = 'bert.'): Matrix {
  const get = (name: string): Float32Array => {
    const values = tensors.get(`${prefix}${name}`);
    if (values === undefined) throw new Error(`fixture lacks ${name}`);
    return values;
  };
  const { hidden_size: h, num_attention_heads: heads, layer_norm_eps: epsilon } = TINY_BERT_CONFIG;
  const headDim = h / heads;
  const row = (table: Float32Array, index: number): number[] => Array.from(table.subarray(index * h, (index + 1) * h));
  let x: Matrix = ids.map((id, position) => {
    const word = row(get('embeddings.word_embeddings.weight'), id);
    const place = row(get('embeddings.position_embeddings.weight'), position);
    const type = row(get('embeddings.token_type_embeddings.weight'), segments?.[position] ?? 0);
    return word.map((value, k) => value + place[k] + type[k]);
  });
  x = layerNorm(x, get('embeddings.LayerNorm.weight'), get('embeddings.LayerNorm.bias'), epsilon);
  for (let i = 0; i < TINY_BERT_CONFIG.num_hidden_layers; i++) {
    const p = (name: string): [Float32Array, Float32Array] => [get(`encoder.layer.${i}.${name}.weight`), get(`encoder.layer.${i}.${name}.bias`)];
    const q = linear(x, ...p('attention.self.query'));
    const k = linear(x, ...p('attention.self.key'));
    const v = linear(x, ...p('attention.self.value'));
    const context: Matrix = x.map(() => new Array<number>(h).fill(0));
    for (let head = 0; head < heads; head++) {
      const slice = (m: Matrix, t: number): number[] => m[t].slice(head * headDim, (head + 1) * headDim);
      for (let t = 0; t < ids.length; t++) {
        const scores = ids.map((id, s) => (id === 0 ? -Infinity : slice(q, t).reduce((sum, value, d) => sum + value * slice(k, s)[d], 0) / Math.sqrt(headDim)));
        const top = Math.max(...scores);
        const weights = scores.map((score) => Math.exp(score - top));
        const total = weights.reduce((a, b) => a + b, 0);
        for (let s = 0; s < ids.length; s++) slice(v, s).forEach((value, d) => { context[t][head * headDim + d] += (weights[s] / total) * value; });
      }
    }
    const attended = linear(context, ...p('attention.output.dense'));
    x = layerNorm(x.map((r, t) => r.map((value, d) => value + attended[t][d])), ...p('attention.output.LayerNorm'), epsilon);
    const intermediate = linear(x, ...p('intermediate.dense')).map((r) => r.map(geluTanh));
    const output = linear(intermediate, ...p('output.dense'));
    x = layerNorm(x.map((r, t) => r.map((value, d) => value + output[t][d])), ...p('output.LayerNorm'), epsilon);
  }
  return x;
}
