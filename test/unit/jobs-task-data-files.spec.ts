// Pretrained families whose artifacts are client files under the data root, through a worker's
// task data: a bring-your-own LayersModel (frozen body, features cached) and a Hugging Face
// encoder mapped onto the dataset's vocabulary. Each trains one epoch with the backbone's
// builder, and Evaluate's rebuild (same artifacts, exact weights) reproduces the run's metrics.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { evaluateWeights, train } from '../../server/engine/index.js';
import { encodeSafetensors } from '../../server/engine/models/pretrained/index.js';
import type { ExampleSet, ModelSpec } from '../../server/engine/types.js';
import { loadEvaluationData, loadTrainingData } from '../../server/jobs/worker/task-data.js';
import type { DatasetInput, TrainRequest, WorkerConfig } from '../../server/jobs/worker/protocol.js';
import { TINY_BERT_CONFIG, TINY_VOCAB, tinyBertTensors } from '../fixtures/pretrained-fixtures.js';
import { optimizerSpec } from '../fixtures/optimizer-spec.js';

const OUR_TOKENS = ['[PAD]', '[CLS]', '[SEP]', '[UNK]', 'the', 'cat', 'sat', 'mat', 'dog', 'cats', 'zzz', 'on'];
const HOOKS = { onStep: () => undefined, onEpochEnd: () => undefined, now: () => performance.now() };

function features(): ExampleSet {
  const values = Float32Array.from({ length: 12 * 6 }, (_, i) => Math.sin(i * 1.7) + (Math.floor(i / 6) % 2));
  return {
    inputs: { kind: 'features', values, dim: 6 },
    labels: Int32Array.from({ length: 12 }, (_, i) => i % 2),
    numClasses: 2,
    classNames: ['a', 'b'],
  };
}

function tokens(): ExampleSet {
  const ids = new Int32Array(8 * 6);
  for (let row = 0; row < 8; row++) ids.set([1, 4 + (row % 2) * 4, 5 + (row % 3), 11, 2], row * 6);
  return {
    inputs: { kind: 'tokens', ids, seqLen: 6, vocabSize: OUR_TOKENS.length },
    labels: Int32Array.from({ length: 8 }, (_, i) => i % 2),
    numClasses: 2,
    classNames: ['a', 'b'],
  };
}

function request(model: ModelSpec, set: ExampleSet, vocabulary?: readonly string[]): TrainRequest {
  const input: DatasetInput = {
    selection: { source: { kind: 'registered', datasetId: 'ds_files' }, classes: [], maxExamples: 0 },
    preloaded: { examples: set, classNames: ['a', 'b'] },
    contentKey: `files-${model.family}/train`,
    ...(vocabulary === undefined ? {} : { vocabulary }),
  };
  return {
    kind: 'train',
    train: input,
    validation: input,
    imbalance: { kind: 'none', ratio: 1, seed: 0 },
    run: {
      model,
      method: { kind: 'fft' },
      batchSize: 4,
      gradientAccumulation: 1,
      epochs: 1,
      seed: 3,
      fullConflictEvery: 0,
      optimizer: optimizerSpec({ clipNorm: 1 }),
    },
  };
}

/** Trains one epoch as a worker would, then evaluates the weights as Evaluate would. */
async function trainAndReevaluate(trainRequest: TrainRequest, config: WorkerConfig): Promise<void> {
  const data = await loadTrainingData(trainRequest, config, () => undefined);
  const outcome = await train(
    { spec: trainRequest.run, train: data.train.examples, validation: data.validation.examples, buildModel: data.builder },
    HOOKS,
  );
  const evaluation = await loadEvaluationData(data.card, trainRequest.validation, config);
  const metrics = await evaluateWeights(data.card.model, outcome.weights, evaluation.dataset.examples, evaluation.builder);
  assert.equal(metrics.loss, outcome.validation?.loss);
  assert.deepEqual(Array.from(metrics.predictions), Array.from(outcome.validation?.predictions ?? []));
}

describe('worker task data from client files', () => {
  let root: string;
  let config: WorkerConfig;
  before(async () => {
    assert.ok(await tf.setBackend('wasm'));
    root = await mkdtemp(path.join(tmpdir(), 'steadytune-files-'));
    config = { dataDir: path.join(root, 'data'), dataRoot: path.join(root, 'shared') };
    const model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [6],
          units: 5,
          activation: 'relu',
          name: 'body',
          kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'old_head' }),
      ],
    });
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        await mkdir(path.join(root, 'shared', 'byo'), { recursive: true });
        const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }];
        await writeFile(
          path.join(root, 'shared', 'byo', 'model.json'),
          JSON.stringify({ modelTopology: artifacts.modelTopology, format: 'layers-model', weightsManifest }),
        );
        await writeFile(path.join(root, 'shared', 'byo', 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
        return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
      }),
    );
    model.dispose();
    const bert = path.join(root, 'shared', 'tiny-bert');
    await mkdir(bert, { recursive: true });
    await writeFile(path.join(bert, 'config.json'), JSON.stringify(TINY_BERT_CONFIG));
    await writeFile(path.join(bert, 'vocab.txt'), `${TINY_VOCAB.join('\n')}\n`);
    await writeFile(path.join(bert, 'model.safetensors'), encodeSafetensors(tinyBertTensors(7)));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await tf.setBackend('cpu');
  });

  it("layers_model: the frozen body's features train a new head; Evaluate rebuilds it", async () => {
    const model: ModelSpec = { family: 'layers_model', path: 'byo/model.json', hiddenUnits: [4], dropout: 0 };
    const data = await loadTrainingData(request(model, features()), config, () => undefined);
    assert.equal(data.train.examples.inputs.kind === 'features' && data.train.examples.inputs.dim, 5);
    await trainAndReevaluate(request(model, features()), config);
  });

  it('hf_encoder: the checkpoint on the dataset vocabulary, top layer and head training; Evaluate rebuilds it', async () => {
    const model: ModelSpec = { family: 'hf_encoder', path: 'tiny-bert', pooling: 'cls', dropout: 0, trainableLayers: 1 };
    const notices: string[] = [];
    const data = await loadTrainingData(request(model, tokens(), OUR_TOKENS), config, (message) => notices.push(message));
    assert.ok(
      notices.some((notice) => /token rows: \d+ exact/.test(notice)),
      notices.join('; '),
    );
    assert.deepEqual(data.card.vocabulary, OUR_TOKENS);
    await trainAndReevaluate(request(model, tokens(), OUR_TOKENS), config);
  });

  it('hf_encoder without the dataset vocabulary is refused', async () => {
    const model: ModelSpec = { family: 'hf_encoder', path: 'tiny-bert', pooling: 'cls', dropout: 0 };
    await assert.rejects(
      loadTrainingData(request(model, tokens()), config, () => undefined),
      /registered text dataset/,
    );
  });
});
