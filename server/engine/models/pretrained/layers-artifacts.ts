import * as tf from '@tensorflow/tfjs';

// Surgery on Keras-format LayersModel artifacts (model.json topology + weight manifest) before
// TF.js builds the model: cut the graph at an inner layer, change the input size, and pick
// out the weights of given layers. Works on plain data, so the result still loads with
// strict weight checking (every weight has a target, every target a weight).

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

interface KerasLayer {
  readonly name: string;
  readonly class_name: string;
  readonly config: JsonObject;
  readonly inbound_nodes: unknown[];
}

/** The model's config holding layers / input_layers / output_layers (functional Keras models). */
function modelConfig(artifacts: tf.io.ModelArtifacts): JsonObject {
  const topology = artifacts.modelTopology;
  const config = isObject(topology) && isObject(topology.model_config) ? topology.model_config.config : undefined;
  if (!isObject(config) || !Array.isArray(config.layers)) {
    throw new Error('artifacts hold no functional Keras topology (model_config.config.layers)');
  }
  return config;
}

export function kerasLayers(artifacts: tf.io.ModelArtifacts): KerasLayer[] {
  return (modelConfig(artifacts).layers as unknown[]).map((layer, index) => {
    if (
      !isObject(layer) ||
      typeof layer.name !== 'string' ||
      typeof layer.class_name !== 'string' ||
      !isObject(layer.config) ||
      !Array.isArray(layer.inbound_nodes)
    ) {
      throw new Error(`topology layer ${index} is malformed`);
    }
    return { name: layer.name, class_name: layer.class_name, config: layer.config, inbound_nodes: layer.inbound_nodes };
  });
}

/** Names of the layers feeding `layer` (inbound nodes are [[name, node, tensor, kwargs], ...]). */
function inboundNames(layer: KerasLayer): string[] {
  return layer.inbound_nodes.flatMap((node) =>
    Array.isArray(node) ? node.flatMap((edge) => (Array.isArray(edge) && typeof edge[0] === 'string' ? [edge[0]] : [])) : [],
  );
}

/** `output` and every layer it depends on. */
export function ancestorLayers(artifacts: tf.io.ModelArtifacts, output: string): Set<string> {
  const byName = new Map(kerasLayers(artifacts).map((layer) => [layer.name, layer]));
  if (!byName.has(output)) throw new Error(`the model has no layer '${output}'`);
  const kept = new Set<string>();
  const pending = [output];
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (kept.has(name)) continue;
    kept.add(name);
    const layer = byName.get(name);
    if (layer) pending.push(...inboundNames(layer));
  }
  return kept;
}

function bytesPerValue(spec: tf.io.WeightsManifestEntry): number {
  const stored = spec.quantization?.dtype ?? spec.dtype;
  switch (stored) {
    case 'uint8':
    case 'bool':
      return 1;
    case 'uint16':
    case 'float16':
      return 2;
    case 'float32':
    case 'int32':
      return 4;
    default:
      throw new Error(`weight '${spec.name}' has unsupported stored dtype ${String(stored)}`);
  }
}

/** Weight data as one buffer (TF.js 4 allows a list of shard buffers). */
export function concatenatedWeightData(artifacts: tf.io.ModelArtifacts): Uint8Array {
  const data = artifacts.weightData;
  if (data === undefined) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  const joined = new Uint8Array(buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0));
  let offset = 0;
  for (const buffer of buffers) {
    joined.set(new Uint8Array(buffer), offset);
    offset += buffer.byteLength;
  }
  return joined;
}

/** The layer a weight belongs to: Keras names weights '<layer>/<weight>'. */
export const weightLayer = (spec: tf.io.WeightsManifestEntry): string => spec.name.split('/')[0];

/** The weight specs accepted by `keep`, with their bytes, in manifest order. */
export function selectWeights(
  artifacts: tf.io.ModelArtifacts,
  keep: (spec: tf.io.WeightsManifestEntry) => boolean,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const all = concatenatedWeightData(artifacts);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const spec of artifacts.weightSpecs ?? []) {
    const length = spec.shape.reduce((product, size) => product * size, 1) * bytesPerValue(spec);
    if (keep(spec)) {
      specs.push(spec);
      pieces.push(all.subarray(offset, offset + length));
    }
    offset += length;
  }
  if (offset !== all.byteLength) throw new Error(`weight manifest describes ${offset} bytes, the data has ${all.byteLength}`);
  const data = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.byteLength, 0));
  let at = 0;
  for (const piece of pieces) {
    data.set(piece, at);
    at += piece.byteLength;
  }
  return { specs, data: data.buffer };
}

/** Decoded (dequantised) float tensors of the given layers' weights, keyed by weight name. */
export function decodeLayerWeights(artifacts: tf.io.ModelArtifacts, layers: ReadonlySet<string>): tf.NamedTensorMap {
  const { specs, data } = selectWeights(artifacts, (spec) => layers.has(weightLayer(spec)));
  return tf.io.decodeWeights(data, specs);
}

/**
 * The artifacts of the sub-model from the inputs to `outputLayer`; with `inputShape`
 * ([height, width, channels]) the input layer accepts that size instead.
 */
export function truncateArtifacts(
  artifacts: tf.io.ModelArtifacts,
  outputLayer: string,
  inputShape?: readonly number[],
): tf.io.ModelArtifacts {
  const kept = ancestorLayers(artifacts, outputLayer);
  const config = modelConfig(artifacts);
  const layers = (config.layers as JsonObject[])
    .filter((layer) => kept.has(String(layer.name)))
    .map((layer) => {
      if (inputShape === undefined || layer.class_name !== 'InputLayer') return layer;
      return { ...layer, config: { ...(layer.config as JsonObject), batch_input_shape: [null, ...inputShape] } };
    });
  const topology = artifacts.modelTopology as JsonObject;
  const modelConfigJson = topology.model_config as JsonObject;
  const { specs, data } = selectWeights(artifacts, (spec) => kept.has(weightLayer(spec)));
  return {
    ...artifacts,
    modelTopology: {
      ...topology,
      model_config: { ...modelConfigJson, config: { ...config, layers, output_layers: [[outputLayer, 0, 0]] } },
    },
    weightSpecs: specs,
    weightData: data,
    // A training config names the old outputs' losses; the cut model is inference-only.
    trainingConfig: undefined,
  };
}
