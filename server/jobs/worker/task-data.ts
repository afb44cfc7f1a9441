// The data a worker task trains or evaluates on, as its model takes it: each split loaded whole
// (built-in, or sent along by the main thread), run through the model's frozen backbone (its
// features cached per dataset content, so before any per-job selection), then the job's class
// filter and example cap. Runs inside workers only.
import { hashExampleSet, loadDataset } from '../../data/index.js';
import { describeInputs, type ExampleInputs, type InputMeta, type ModelBuilder, type ModelSpec } from '../../engine/index.js';
import { prepareBackbone, type PreparedBackbone } from './backbones.js';
import { applySelection, type SelectedDataset } from './dataset-selection.js';
import type { DatasetInput, ModelCard, TrainRequest, WorkerConfig } from './protocol.js';

interface WholeSplit {
  readonly loaded: SelectedDataset;
  /** Names the split's content for the feature cache; computed only when a backbone needs it. */
  readonly contentKey: () => string;
}

async function loadWhole(input: DatasetInput): Promise<WholeSplit> {
  if (input.preloaded !== undefined) {
    const { preloaded, contentKey } = input;
    return { loaded: preloaded, contentKey: () => contentKey ?? `split-sha256:${hashExampleSet(preloaded.examples)}` };
  }
  const { source } = input.selection;
  if (source.kind !== 'builtin') {
    throw new Error(`registered dataset ${source.datasetId} must be resolved on the main thread and sent along`);
  }
  const loaded = await loadDataset({ builtin: source.name, split: source.split });
  const whole = { examples: loaded.examples, classNames: loaded.classNames };
  return { loaded: whole, contentKey: () => `split-sha256:${hashExampleSet(whole.examples)}` };
}

async function modelReady(whole: WholeSplit, input: DatasetInput, field: string, backbone: PreparedBackbone): Promise<SelectedDataset> {
  const { examples, classNames } = whole.loaded;
  const ready = backbone.extractsFeatures ? await backbone.examplesFor(examples, whole.contentKey()) : examples;
  return applySelection({ examples: ready, classNames }, input.selection, field);
}

export interface TrainingData {
  readonly train: SelectedDataset;
  readonly validation: SelectedDataset;
  readonly builder: ModelBuilder;
  /** Describes the raw inputs (what Predict is sent), not the backbone's features. */
  readonly card: ModelCard;
}

export async function loadTrainingData(
  request: TrainRequest,
  config: WorkerConfig,
  notice: (message: string) => void,
): Promise<TrainingData> {
  const [wholeTrain, wholeValidation] = [await loadWhole(request.train), await loadWhole(request.validation)];
  const inputs = describeInputs(wholeTrain.loaded.examples.inputs);
  const vocabulary = request.train.vocabulary;
  const backbone = await prepareBackbone(request.run.model, {
    config,
    inputs,
    notice,
    ...(vocabulary === undefined ? {} : { vocabulary }),
  });
  const train = await modelReady(wholeTrain, request.train, 'train', backbone);
  const validation = await modelReady(wholeValidation, request.validation, 'validation', backbone);
  const card: ModelCard = {
    model: request.run.model,
    inputs,
    numClasses: train.examples.numClasses,
    classNames: train.classNames,
    ...(vocabulary === undefined || !usesVocabulary(request.run.model) ? {} : { vocabulary }),
  };
  return { train, validation, builder: backbone.builder, card };
}

/** Families whose weights depend on the training vocabulary's words (not only its size). */
function usesVocabulary(model: ModelSpec): boolean {
  return model.family === 'glove_bag' || model.family === 'hf_encoder';
}

function backboneFor(card: ModelCard, inputs: InputMeta, config: WorkerConfig): Promise<PreparedBackbone> {
  // Notices were given at training time; rebuilding for Evaluate/Predict repeats none.
  const notice = (): void => undefined;
  return prepareBackbone(card.model, { config, inputs, notice, ...(card.vocabulary === undefined ? {} : { vocabulary: card.vocabulary }) });
}

export async function loadEvaluationData(
  card: ModelCard,
  input: DatasetInput,
  config: WorkerConfig,
): Promise<{ dataset: SelectedDataset; builder: ModelBuilder }> {
  const whole = await loadWhole(input);
  const backbone = await backboneFor(card, describeInputs(whole.loaded.examples.inputs), config);
  return { dataset: await modelReady(whole, input, 'dataset', backbone), builder: backbone.builder };
}

export async function predictionInputs(
  card: ModelCard,
  inputs: ExampleInputs,
  config: WorkerConfig,
): Promise<{ inputs: ExampleInputs; builder: ModelBuilder }> {
  const backbone = await backboneFor(card, describeInputs(inputs), config);
  return { inputs: backbone.extractsFeatures ? await backbone.inputsFor(inputs) : inputs, builder: backbone.builder };
}
