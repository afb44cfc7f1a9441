// The MobileNetV2 setting's inputs: nsfwjs's ImageNet-pretrained MobileNetV2 (bundled with the
// npm package, loaded offline) cut before its last MOBILENET_TRAINABLE_BLOCKS blocks; the frozen
// prefix runs once over the setting's images and its feature maps are cached on disk
// (bench/stability/.cache/features), so a run trains only the tail blocks (their pretrained
// weights, plain data, go to the worker threads) and a fresh head.
import { FileFeatureCache } from '../../server/data/index.js';
import type { Weights } from '../../server/engine/index.js';
import { cachedFeatureSet, loadMobileNetV2Backbone, mobilenetFeatureExtractor } from '../../server/engine/models/pretrained/index.js';
import type { SettingData } from './datasets.js';
import { MOBILENET_INPUT_SIZE, MOBILENET_TRAINABLE_BLOCKS } from './protocol.js';

export interface MobileNetSetting {
  /** The setting with train and test inputs replaced by the frozen prefix's feature maps. */
  readonly data: SettingData;
  /** Pretrained weights of the trainable tail blocks. */
  readonly tail: Weights;
  readonly featureDim: number;
}

export async function mobileNetSetting(
  pixels: SettingData,
  settingKey: string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<MobileNetSetting> {
  const backbone = await loadMobileNetV2Backbone({ inputSize: MOBILENET_INPUT_SIZE, trainableBlocks: MOBILENET_TRAINABLE_BLOCKS });
  try {
    const extractor = mobilenetFeatureExtractor(backbone);
    const store = new FileFeatureCache(cacheDir);
    const started = performance.now();
    const [train, test] = await Promise.all([
      cachedFeatureSet(extractor, pixels.train, `${settingKey}|train`, store),
      cachedFeatureSet(extractor, pixels.test, `${settingKey}|test`, store),
    ]);
    const source = train.hit && test.hit ? 'cached' : `extracted in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    log(`MobileNetV2 ${MOBILENET_INPUT_SIZE} px features for ${settingKey}: ${extractor.featureDim} per image (${source})`);
    return { data: { ...pixels, train: train.set, test: test.set }, tail: backbone.tail, featureDim: extractor.featureDim };
  } finally {
    backbone.dispose();
  }
}
