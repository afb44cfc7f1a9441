import type { NamedWeight, TransformerModelSpec, Weights } from '../../types.js';
import type { InputMeta } from '../classifier.js';
import { parameterName } from '../parameter-names.js';
import { createTransformerClassifier, type TransformerClassifier } from '../transformer.js';
import { loadWeights } from '../weight-transfer.js';
import { remapTokenEmbeddings, type HfVocabulary } from './hf-vocabulary.js';
import type { SafetensorsTensor } from './safetensors.js';
import type { HfEncoderModelSpec } from './specs.js';

// Hugging Face BERT / RoBERTa encoders (config.json + model.safetensors + vocab) in the
// engine's transformer (transformer.ts, post-LN mode). What maps exactly: post-LN layers, Q/K/V/output
// projections (PyTorch's [out, in] kernels are transposed), learned positions, token types,
// the embedding LayerNorm. What does not: the engine's GELU is the tanh approximation (BERT
// uses erf; max deviation ~1e-3 per unit), its LayerNorm epsilon is fixed at 1e-5 (BERT 1e-12),
// and it has no pooler (dense + tanh on [CLS]): features are the raw [CLS] state or the mean.

export interface HfEncoderConfig {
  readonly modelType: string;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  /** First row of the position table used: RoBERTa numbers positions from padding_idx + 1. */
  readonly positionOffset: number;
  readonly hiddenAct: string;
  readonly layerNormEps: number;
}

function positiveInteger(config: Record<string, unknown>, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (!Number.isInteger(value) || (value as number) < 1) throw new Error(`config.json: ${key} must be a positive integer`);
  return value as number;
}

export function parseHfConfig(json: unknown): HfEncoderConfig {
  if (typeof json !== 'object' || json === null) throw new Error('config.json is not a JSON object');
  const config = json as Record<string, unknown>;
  const modelType = String(config.model_type ?? 'bert');
  if ((config.position_embedding_type ?? 'absolute') !== 'absolute') {
    throw new Error(`config.json: position_embedding_type ${String(config.position_embedding_type)} is not supported (absolute only)`);
  }
  const roberta = modelType === 'roberta' || modelType === 'xlm-roberta' || modelType === 'camembert';
  return {
    modelType,
    hiddenSize: positiveInteger(config, 'hidden_size'),
    layers: positiveInteger(config, 'num_hidden_layers'),
    heads: positiveInteger(config, 'num_attention_heads'),
    intermediateSize: positiveInteger(config, 'intermediate_size'),
    maxPositions: positiveInteger(config, 'max_position_embeddings', 512),
    typeVocabSize: positiveInteger(config, 'type_vocab_size', 2),
    positionOffset: roberta ? Number(config.pad_token_id ?? 1) + 1 : 0,
    hiddenAct: String(config.hidden_act ?? 'gelu'),
    layerNormEps: Number(config.layer_norm_eps ?? 1e-12),
  };
}

/** The engine transformer spec of the checkpoint's geometry. */
export function hfTransformerSpec(config: HfEncoderConfig, spec: Pick<HfEncoderModelSpec, 'pooling' | 'dropout'>): TransformerModelSpec {
  return {
    family: 'transformer',
    dModel: config.hiddenSize,
    heads: config.heads,
    layers: config.layers,
    ffDim: config.intermediateSize,
    pooling: spec.pooling,
    dropout: spec.dropout,
  };
}

/** HF names end in these (after a 'bert.' / 'roberta.' prefix); LayerNorm may be weight/bias or gamma/beta. */
function layerNames(i: number): Array<[string, string, 'kernel' | 'vector']> {
  const hf = `encoder.layer.${i}`;
  const ours = `encoder/layer${i}`;
  const dense = (from: string, to: string): Array<[string, string, 'kernel' | 'vector']> => [
    [`${hf}.${from}.weight`, `${ours}/${to}/kernel`, 'kernel'],
    [`${hf}.${from}.bias`, `${ours}/${to}/bias`, 'vector'],
  ];
  const norm = (from: string, to: string): Array<[string, string, 'kernel' | 'vector']> => [
    [`${hf}.${from}.weight`, `${ours}/${to}/gamma`, 'vector'],
    [`${hf}.${from}.bias`, `${ours}/${to}/beta`, 'vector'],
  ];
  return [
    ...dense('attention.self.query', 'attn/query'),
    ...dense('attention.self.key', 'attn/key'),
    ...dense('attention.self.value', 'attn/value'),
    ...dense('attention.output.dense', 'attn/output'),
    ...norm('attention.output.LayerNorm', 'attn_norm'),
    ...dense('intermediate.dense', 'ffn/intermediate'),
    ...dense('output.dense', 'ffn/output'),
    ...norm('output.LayerNorm', 'ffn_norm'),
  ];
}

/** Tensors by their name with any model prefix removed ('bert.encoder...' -> 'encoder...'); gamma/beta read as weight/bias. */
function unprefixed(tensors: ReadonlyMap<string, SafetensorsTensor>): Map<string, SafetensorsTensor> {
  const byName = new Map<string, SafetensorsTensor>();
  for (const [name, tensor] of tensors) {
    const start = name.search(/(^|\.)(embeddings|encoder|pooler)\./);
    const bare = (start <= 0 ? name : name.slice(start + 1))
      .replace(/LayerNorm\.gamma$/, 'LayerNorm.weight')
      .replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
    byName.set(bare, tensor);
  }
  return byName;
}

function transposed({ shape: [rows, columns], values }: SafetensorsTensor): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) out[c * rows + r] = values[r * columns + c];
  return out;
}

export interface HfTarget {
  /** steadytune's token strings by id (the dataset's vocabulary). */
  readonly tokens: readonly string[];
  readonly seqLen: number;
  readonly hasSegments: boolean;
}

export interface MappedCheckpoint {
  readonly spec: TransformerModelSpec;
  /** Named as the engine transformer's variables; no head (a fresh one is trained). */
  readonly weights: Weights;
  readonly notes: readonly string[];
}

/** Checkpoint tensors -> engine transformer weights for a dataset's vocabulary, sequence length and segments. */
export function mapHfCheckpoint(
  config: HfEncoderConfig,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  vocabulary: HfVocabulary,
  target: HfTarget,
  spec: Pick<HfEncoderModelSpec, 'pooling' | 'dropout'>,
): MappedCheckpoint {
  const { hiddenSize: dim, positionOffset } = config;
  const byName = unprefixed(tensors);
  const take = (name: string, shape: readonly number[]): SafetensorsTensor => {
    const tensor = byName.get(name);
    if (tensor === undefined) throw new Error(`checkpoint lacks ${name}`);
    if (tensor.shape.length !== shape.length || tensor.shape.some((size, axis) => size !== shape[axis])) {
      throw new Error(`checkpoint ${name} has shape [${tensor.shape}], config implies [${shape}]`);
    }
    byName.delete(name);
    return tensor;
  };
  const notes: string[] = [];
  if (positionOffset + target.seqLen > config.maxPositions) {
    throw new Error(`seqLen ${target.seqLen} needs more than the checkpoint's ${config.maxPositions} positions`);
  }
  const words = take('embeddings.word_embeddings.weight', [vocabulary.tokens.length, dim]);
  const remapped = remapTokenEmbeddings(vocabulary, words.values, dim, target.tokens);
  notes.push(`token rows: ${remapped.exact} exact, ${remapped.pieced} averaged from sub-word pieces, ${remapped.unknown} unknown`);
  const positions = take('embeddings.position_embeddings.weight', [config.maxPositions, dim]).values;
  const types = take('embeddings.token_type_embeddings.weight', [config.typeVocabSize, dim]).values;
  const positionRows = positions.slice(positionOffset * dim, (positionOffset + target.seqLen) * dim);
  const typeRow = (id: number): Float32Array =>
    types.slice(Math.min(id, config.typeVocabSize - 1) * dim, (Math.min(id, config.typeVocabSize - 1) + 1) * dim);
  // Without segments every token has type 0: adding that row to each position row is exact.
  if (!target.hasSegments)
    positionRows.forEach((value, index) => {
      positionRows[index] = value + typeRow(0)[index % dim];
    });
  const weights: NamedWeight[] = [
    { name: 'embeddings/token', shape: [target.tokens.length, dim], values: remapped.values },
    { name: 'embeddings/position', shape: [target.seqLen, dim], values: positionRows },
    ...(target.hasSegments
      ? [{ name: 'embeddings/segment', shape: [2, dim], values: Float32Array.from([...typeRow(0), ...typeRow(1)]) }]
      : []),
    { name: 'embeddings/layer_norm/gamma', shape: [dim], values: take('embeddings.LayerNorm.weight', [dim]).values },
    { name: 'embeddings/layer_norm/beta', shape: [dim], values: take('embeddings.LayerNorm.bias', [dim]).values },
  ];
  for (let i = 0; i < config.layers; i++) {
    for (const [hf, ours, kind] of layerNames(i)) {
      const tensor = byName.get(hf);
      if (tensor === undefined) throw new Error(`checkpoint lacks ${hf}`);
      byName.delete(hf);
      // PyTorch Linear stores [out, in]; the engine multiplies x [n, in] by a kernel [in, out].
      weights.push(
        kind === 'kernel'
          ? { name: ours, shape: [tensor.shape[1], tensor.shape[0]], values: transposed(tensor) }
          : { name: ours, shape: [...tensor.shape], values: tensor.values },
      );
    }
  }
  if (!['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(config.hiddenAct)) {
    notes.push(`hidden_act ${config.hiddenAct} runs as the tanh GELU approximation`);
  }
  if (config.layerNormEps !== 1e-5) notes.push(`layer_norm_eps ${config.layerNormEps} runs as 1e-5`);
  const unused = [...byName.keys()];
  if (unused.length > 0) notes.push(`unused checkpoint tensors: ${unused.slice(0, 8).join(', ')}${unused.length > 8 ? ', ...' : ''}`);
  return { spec: hfTransformerSpec(config, spec), weights, notes };
}

/** Whether a variable trains under the spec: the top `trainableLayers` layers, embeddings only when all do. */
function trainsUnder(spec: HfEncoderModelSpec, layers: number, name: string): boolean {
  if (name.startsWith('head/')) return true;
  const trainableLayers = spec.trainableLayers ?? layers;
  const layer = /^encoder\/layer(\d+)\//.exec(name);
  if (layer) return Number(layer[1]) >= layers - trainableLayers;
  return trainableLayers >= layers && (spec.trainEmbeddings ?? true);
}

/**
 * A post-LN engine transformer holding the checkpoint, with a fresh head. Frozen variables
 * stay out of `trainable`, so Evaluate/Predict must rebuild through this function too.
 */
export function createHfEncoderClassifier(
  spec: HfEncoderModelSpec,
  checkpoint: MappedCheckpoint,
  inputs: InputMeta,
  numClasses: number,
  seed: number,
  onNotice?: (message: string) => void,
): TransformerClassifier {
  if (inputs.kind !== 'tokens') throw new Error('hf_encoder needs token inputs, got feature vectors');
  const model = createTransformerClassifier(checkpoint.spec, inputs, numClasses, seed, { norm: 'post' });
  try {
    loadWeights(model, checkpoint.weights, 'initial', onNotice);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const trainable = model.trainable.filter((variable) => trainsUnder(spec, checkpoint.spec.layers, parameterName(variable)));
  return { ...model, trainable };
}
