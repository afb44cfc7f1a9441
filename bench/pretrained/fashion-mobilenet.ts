// Frozen MobileNetV2 (nsfwjs) features on Fashion-MNIST: extraction ms/img per input size on the
// selected backend, then a linear probe and an MLP head on a 2k/1k subset; raw-pixel MLP for
// reference. Features are cached on disk: a second run skips extraction.
//
//   node --import tsx bench/pretrained/fashion-mobilenet.ts [--sizes 32,64,96] [--tails 0,1] [--cache /tmp/steadytune-features]

import { parseArgs } from 'node:util';
import { FileFeatureCache } from '../../server/data/features-cache.js';
import { loadBuiltin } from '../../server/data/builtin.js';
import { selectExamples } from '../../server/data/example-set.js';
import { selectBackend } from '../../server/engine/backend.js';
import { createMlp } from '../../server/engine/models/mlp.js';
import type { describeInputs } from '../../server/engine/models/index.js';
import {
  cachedFeatureSet,
  createMobileNetClassifier,
  loadMobileNetV2Backbone,
  mobilenetFeatureExtractor,
} from '../../server/engine/models/pretrained/index.js';
import type { ExampleSet } from '../../server/engine/types.js';
import { format, seededSubset, trainHead } from './run-head.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32,64,96' },
    tails: { type: 'string', default: '0' },
    cache: { type: 'string', default: '/tmp/steadytune-features' },
    epochs: { type: 'string', default: '15' },
  },
});
const backend = await selectBackend('wasm');
console.log(`backend ${backend.name}`);
const fullTrain = await loadBuiltin('fashion-mnist', 'train');
const fullValidation = await loadBuiltin('fashion-mnist', 'validation');
// Sorted: the cached subset features are stored in index order.
const trainSet = selectExamples(fullTrain, seededSubset(fullTrain.labels.length, 2000, 1).sort());
const validation = selectExamples(fullValidation, seededSubset(fullValidation.labels.length, 1000, 2).sort());
const store = new FileFeatureCache(args.cache);
const epochs = Number(args.epochs);
const SEED = 7;

const pixels = await trainHead(
  (_, inputs, numClasses, seed) => createMlp({ family: 'mlp', hiddenUnits: [256], dropout: 0.1 }, describeDim(inputs), numClasses, seed),
  trainSet,
  validation,
  { epochs, learningRate: 1e-3, batchSize: 64, seed: SEED },
);
console.log(`raw pixels, MLP 784-256-10: ${format(pixels.evaluation)} (${pixels.seconds.toFixed(1)} s)`);

function describeDim(inputs: ReturnType<typeof describeInputs>): number {
  if (inputs.kind !== 'features') throw new Error('feature inputs expected');
  return inputs.dim;
}

for (const inputSize of args.sizes.split(',').map(Number)) {
  for (const trainableBlocks of args.tails.split(',').map(Number)) {
    const backbone = await loadMobileNetV2Backbone({ inputSize, trainableBlocks });
    const extractor = mobilenetFeatureExtractor(backbone);
    const started = performance.now();
    // Bench subsets are keyed by their seeds; a job keys the full split by its content hash.
    const features: ExampleSet[] = [];
    let hits = 0;
    for (const [set, name] of [
      [trainSet, 'train-2k-s1'],
      [validation, 'test-1k-s2'],
    ] as const) {
      const cached = await cachedFeatureSet(extractor, set, `fashion-mnist|${name}`, store);
      features.push(cached.set);
      hits += cached.hit ? 1 : 0;
    }
    const msPerImage = (performance.now() - started) / 3000;
    console.log(
      `${inputSize} px, ${trainableBlocks} trainable blocks: ${hits === 2 ? 'cached' : `${msPerImage.toFixed(2)} ms/img extraction`}, ${extractor.featureDim} features`,
    );
    for (const hiddenUnits of [[], [256]]) {
      const spec = { family: 'mobilenet_v2' as const, inputSize, trainableBlocks, hiddenUnits, dropout: 0.1 };
      const run = await trainHead(
        (_, inputs, numClasses, seed) => createMobileNetClassifier(spec, backbone.tail, inputs, numClasses, seed),
        features[0],
        features[1],
        { epochs, learningRate: 1e-3, batchSize: 64, seed: SEED, model: spec },
      );
      console.log(`  head [${hiddenUnits}]: ${format(run.evaluation)}; ${run.meanStepMs.toFixed(1)} ms/step (${run.seconds.toFixed(1)} s)`);
    }
    backbone.dispose();
  }
}
