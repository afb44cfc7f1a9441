// Model specs of the pretrained families, as plain data: members of types.ts's ModelSpec union
// (re-exported there), kept beside the builders that read them.

export type PretrainedFamily = 'mobilenet_v2' | 'glove_bag' | 'layers_model' | 'hf_encoder';

/** The dense stack every pretrained family puts on its pooled features. */
export interface FeatureHeadSpec {
  /** ReLU layers between the pooled features and the class head; empty = linear probe. */
  readonly hiddenUnits: readonly number[];
  /** Dropout on the pooled features and after each hidden layer, when training. */
  readonly dropout: number;
}

export interface MobileNetV2ModelSpec extends FeatureHeadSpec {
  readonly family: 'mobilenet_v2';
  /** Square side the images are resized to; a multiple of 32 (the network's total stride). */
  readonly inputSize: number;
  /** 0 = frozen backbone; 1..4 = the last k of block_14, block_15, block_16, Conv_1 train. */
  readonly trainableBlocks: number;
}

export interface GloveBagModelSpec extends FeatureHeadSpec {
  readonly family: 'glove_bag';
  /** false keeps the GloVe table fixed: only the head (and hidden layers) train. */
  readonly trainEmbedding: boolean;
}

export interface LayersModelModelSpec extends FeatureHeadSpec {
  readonly family: 'layers_model';
  /** model.json under the data root; its shards are resolved beside it. */
  readonly path: string;
  /** Layer whose output is the feature; default: the input of the model's last layer. */
  readonly featureLayer?: string;
}

export interface HfEncoderModelSpec {
  readonly family: 'hf_encoder';
  /** Directory under the data root holding config.json, model.safetensors and vocab.txt or tokenizer.json. */
  readonly path: string;
  readonly pooling: 'cls' | 'mean';
  readonly dropout: number;
  /** Encoder layers that train, counted from the top; undefined = all, 0 = head only. */
  readonly trainableLayers?: number;
  /** Whether token/position/segment embeddings and their norm train (only when all layers train). */
  readonly trainEmbeddings?: boolean;
}

export type PretrainedModelSpec = MobileNetV2ModelSpec | GloveBagModelSpec | LayersModelModelSpec | HfEncoderModelSpec;
