import type * as tf from '@tensorflow/tfjs';

// The MobileNetV2 that the npm package nsfwjs ships (a Keras LayersModel, uint8-quantised,
// 224 px input, 5-class NSFW head) as JS modules: model.min.js exports the model.json object,
// group1-shard1of1.min.js the weight shard as a base64 string. Loading it needs no network
// and no file paths: the modules are imported like any dependency.

/** Identifies the weights in cache keys: a new nsfwjs release may ship other weights. */
export const NSFWJS_MOBILENET_V2_ID = 'nsfwjs@4.3.0/mobilenet_v2';

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A CommonJS module imported from ESM arrives as { default: module.exports }. */
const moduleExports = (imported: unknown): unknown => (isObject(imported) && 'default' in imported ? imported.default : imported);

function parseManifest(value: unknown): tf.io.WeightsManifestConfig {
  if (!Array.isArray(value) || !value.every((group) => isObject(group) && Array.isArray(group.paths) && Array.isArray(group.weights))) {
    throw new Error('nsfwjs model.json has no valid weightsManifest');
  }
  return value as tf.io.WeightsManifestConfig;
}

/** Model topology, weight specs and weight bytes of nsfwjs's MobileNetV2, decoded from its bundled modules. */
export async function loadNsfwjsMobileNetV2Artifacts(): Promise<tf.io.ModelArtifacts> {
  // nsfwjs's own .d.ts does not resolve under NodeNext: state the shape we rely on.
  const bundled: { modelJson: () => Promise<unknown>; weightBundles: ReadonlyArray<() => Promise<unknown>> } = (
    await import('nsfwjs/models/mobilenet_v2')
  ).MobileNetV2Model;
  const modelJson: unknown = moduleExports(await bundled.modelJson());
  if (!isObject(modelJson) || !isObject(modelJson.modelTopology)) throw new Error('nsfwjs model.json has no modelTopology');
  const manifest = parseManifest(modelJson.weightsManifest);
  // The bundles are listed in manifest path order (group1-shard1of1, ...).
  const shards = await Promise.all(bundled.weightBundles.map(async (bundle) => moduleExports(await bundle())));
  const paths = manifest.flatMap((group) => group.paths);
  if (shards.length !== paths.length || !shards.every((shard) => typeof shard === 'string')) {
    throw new Error(`nsfwjs ships ${shards.length} weight bundles for ${paths.length} manifest paths`);
  }
  const buffers = (shards as string[]).map((base64) => Buffer.from(base64, 'base64'));
  const weightData = new Uint8Array(buffers.reduce((sum, buffer) => sum + buffer.byteLength, 0));
  let offset = 0;
  for (const buffer of buffers) {
    weightData.set(buffer, offset);
    offset += buffer.byteLength;
  }
  return {
    modelTopology: modelJson.modelTopology,
    weightSpecs: manifest.flatMap((group) => group.weights),
    weightData: weightData.buffer,
    format: 'layers-model',
    generatedBy: 'nsfwjs',
  };
}

/** A TF.js IOHandler (tf.loadLayersModel(handler)) over the bundled model. */
export function nsfwjsMobileNetV2Handler(): tf.io.IOHandler {
  return { load: loadNsfwjsMobileNetV2Artifacts };
}
