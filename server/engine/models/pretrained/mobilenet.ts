import * as tf from '@tensorflow/tfjs';
import type { FeatureInputs, NamedWeight, Weights } from '../../types.js';
import type { Batch, ClassifierModel, ForwardOptions } from '../classifier.js';
import type { InputMeta } from '../classifier.js';
import { ParameterFactory } from '../parameters.js';
import { registrableName } from '../parameter-names.js';
import type { FeatureExtractor } from './feature-cache.js';
import { applyClassHead, applyHiddenLayers, createDenseHead } from './feature-head.js';
import { truncateArtifacts } from './layers-artifacts.js';
import { createTail, extractTailWeights, MAX_TRAINABLE_BLOCKS, PREFIX_CHANNELS, PREFIX_OUTPUT } from './mobilenet-tail.js';
import { loadNsfwjsMobileNetV2Artifacts, NSFWJS_MOBILENET_V2_ID } from './nsfwjs-mobilenet.js';
import type { MobileNetV2ModelSpec } from './specs.js';

// MobileNetV2 (nsfwjs's weights) as a backbone. The frozen prefix runs once per dataset in the
// extractor; its output is what the classifier trains on: pooled 1280-d features when the
// whole backbone is frozen, or the activations entering the trainable tail blocks.

/** Total stride of MobileNetV2: the input side must be a multiple of it. */
export const MOBILENET_STRIDE = 32;
/**
 * Fashion-MNIST 2k/1k on wasm (batch 64): 32 px extracts at 1.5 ms/img but its 1x1 final map
 * gives weak frozen features (linear probe 0.49); 64 px costs 4.5 ms/img and with the last two
 * blocks training reaches 0.82 (frozen 0.66); 96 px frozen 0.73 at 10 ms/img; 224 px 57 ms/img.
 */
export const DEFAULT_MOBILENET_INPUT_SIZE = 64;

export interface MobileNetOptions {
  readonly inputSize: number;
  readonly trainableBlocks: number;
}

export interface MobileNetBackbone extends MobileNetOptions {
  /** Names the weights and settings: part of feature cache keys. */
  readonly id: string;
  /** Per-example output of the frozen prefix, [side, side, channels] (pooled: [1, 1, 1280]). */
  readonly outputShape: readonly [number, number, number];
  /** BN-folded pretrained weights of the trainable blocks; empty when frozen. */
  readonly tail: Weights;
  readonly prefix: tf.LayersModel;
  dispose(): void;
}

export function checkMobileNetOptions({ inputSize, trainableBlocks }: MobileNetOptions): void {
  if (!(Number.isInteger(inputSize) && inputSize >= MOBILENET_STRIDE && inputSize % MOBILENET_STRIDE === 0)) {
    throw new Error(`mobilenet_v2 inputSize must be a positive multiple of ${MOBILENET_STRIDE}, got ${inputSize}`);
  }
  if (!(Number.isInteger(trainableBlocks) && trainableBlocks >= 0 && trainableBlocks <= MAX_TRAINABLE_BLOCKS)) {
    throw new Error(`mobilenet_v2 trainableBlocks must be an integer in [0, ${MAX_TRAINABLE_BLOCKS}], got ${trainableBlocks}`);
  }
}

/** Shape of the extractor's per-example output for these options. */
export function mobileNetOutputShape({ inputSize, trainableBlocks }: MobileNetOptions): [number, number, number] {
  if (trainableBlocks === 0) return [1, 1, PREFIX_CHANNELS[0]];
  const side = inputSize / MOBILENET_STRIDE;
  return [side, side, PREFIX_CHANNELS[trainableBlocks]];
}

let bundledArtifacts: Promise<tf.io.ModelArtifacts> | undefined;

/** Keras MobileNetV2 artifacts other than nsfwjs's, with an id naming their weights. */
export interface MobileNetSource {
  readonly id: string;
  readonly artifacts: tf.io.ModelArtifacts;
}

/** The prefix up to the trainable blocks as a LayersModel, and the tail's pretrained weights. */
export async function loadMobileNetV2Backbone(
  options: MobileNetOptions,
  /** Default: nsfwjs's bundled model, decoded once per process. */
  custom?: MobileNetSource,
): Promise<MobileNetBackbone> {
  checkMobileNetOptions(options);
  bundledArtifacts ??= loadNsfwjsMobileNetV2Artifacts().catch((error: unknown) => {
    bundledArtifacts = undefined;
    throw error;
  });
  const source = custom?.artifacts ?? (await bundledArtifacts);
  const { inputSize, trainableBlocks } = options;
  const cut = truncateArtifacts(source, PREFIX_OUTPUT[trainableBlocks], [inputSize, inputSize, 3]);
  const prefix = await tf.loadLayersModel(tf.io.fromMemory(cut), { strict: true });
  const tail = extractTailWeights(source, trainableBlocks);
  return {
    id: `${custom?.id ?? NSFWJS_MOBILENET_V2_ID}@${inputSize}px/tail${trainableBlocks}`,
    inputSize,
    trainableBlocks,
    outputShape: mobileNetOutputShape(options),
    tail,
    prefix,
    dispose: () => prefix.dispose(),
  };
}

export interface ImageShape {
  readonly height: number;
  readonly width: number;
  /** 1 (grayscale, repeated to RGB) or 3. */
  readonly channels: 1 | 3;
}

/** Square images: dim = side^2 (grayscale) or 3 side^2 (RGB, channels last). */
export function inferImageShape(dim: number): ImageShape {
  const graySide = Math.round(Math.sqrt(dim));
  if (graySide * graySide === dim) return { height: graySide, width: graySide, channels: 1 };
  const rgbSide = Math.round(Math.sqrt(dim / 3));
  if (3 * rgbSide * rgbSide === dim) return { height: rgbSide, width: rgbSide, channels: 3 };
  throw new Error(`cannot read ${dim} features as a square grayscale or RGB image: pass imageShape`);
}

export interface ExtractorOptions {
  /** Default: inferred from the feature dimension (square images). */
  readonly imageShape?: ImageShape;
  /** Images per forward pass. */
  readonly batchSize?: number;
}

/**
 * Runs images (pixel rows in [0, 1], as nsfwjs feeds them) through the frozen prefix: resized
 * bilinearly to the input size, grayscale repeated to three channels. Frozen: global average
 * pooled 1280-d features; with trainable blocks: the flattened activations entering them.
 */
export function mobilenetFeatureExtractor(backbone: MobileNetBackbone, options: ExtractorOptions = {}): FeatureExtractor {
  const [side, , channels] = backbone.outputShape;
  const featureDim = side * side * channels;
  const batchSize = options.batchSize ?? 64;
  return {
    id: backbone.id,
    featureDim,
    async extract(inputs: FeatureInputs): Promise<FeatureInputs> {
      const shape = options.imageShape ?? inferImageShape(inputs.dim);
      if (shape.height * shape.width * shape.channels !== inputs.dim) {
        throw new Error(`image shape ${shape.height}x${shape.width}x${shape.channels} does not match ${inputs.dim} features`);
      }
      const count = inputs.values.length / inputs.dim;
      const values = new Float32Array(count * featureDim);
      for (let start = 0; start < count; start += batchSize) {
        const size = Math.min(batchSize, count - start);
        const batch = tf.tidy(() => {
          const rows = inputs.values.subarray(start * inputs.dim, (start + size) * inputs.dim);
          let images: tf.Tensor4D = tf.tensor4d(rows, [size, shape.height, shape.width, shape.channels]);
          if (shape.height !== backbone.inputSize || shape.width !== backbone.inputSize) {
            images = tf.image.resizeBilinear(images, [backbone.inputSize, backbone.inputSize]);
          }
          if (shape.channels === 1) images = tf.tile(images, [1, 1, 1, 3]);
          const output = backbone.prefix.predict(images) as tf.Tensor4D;
          return backbone.trainableBlocks === 0 ? tf.mean(output, [1, 2]) : tf.reshape(output, [size, featureDim]);
        });
        values.set((await batch.data()) as Float32Array, start * featureDim);
        batch.dispose();
      }
      return { kind: 'features', values, dim: featureDim };
    },
  };
}

/**
 * The trainable part over the extractor's features: the tail blocks (initialised from
 * `tail`), global average pooling, hidden layers and head. Built from plain data, so
 * Evaluate/Predict rebuild it like any family and load the trained weights over it.
 */
export function createMobileNetClassifier(
  spec: MobileNetV2ModelSpec,
  tail: Weights,
  inputs: InputMeta,
  numClasses: number,
  seed: number,
): ClassifierModel {
  checkMobileNetOptions(spec);
  const [side, , channels] = mobileNetOutputShape(spec);
  const expectedDim = side * side * channels;
  if (inputs.kind !== 'features' || inputs.dim !== expectedDim) {
    throw new Error(
      `mobilenet_v2 (${spec.inputSize} px, ${spec.trainableBlocks} trainable blocks) takes ${expectedDim} ` +
        `backbone features per example: run mobilenetFeatureExtractor first`,
    );
  }
  const created: tf.Variable[] = [];
  const fromWeight = (weight: NamedWeight): tf.Variable => {
    const variable = tf.tidy(() => tf.variable(tf.tensor(weight.values, [...weight.shape], 'float32'), true, registrableName(weight.name)));
    created.push(variable);
    return variable;
  };
  const tailModel = createTail(spec.trainableBlocks, tail, fromWeight);
  const head = createDenseHead(new ParameterFactory(seed), 'mobilenet_v2', PREFIX_CHANNELS[0], spec, numClasses);
  const trainable = [...tailModel.variables, ...head.variables];
  return {
    family: 'mobilenet_v2',
    numClasses,
    trainable,
    headKernel: head.headKernel,
    headBias: head.headBias,
    features(batch: Batch, options: ForwardOptions): tf.Tensor2D {
      if (batch.inputs.dtype !== 'float32') throw new Error('mobilenet_v2 takes float32 backbone features, not token ids');
      return tf.tidy(() => {
        const n = batch.inputs.shape[0];
        let pooled: tf.Tensor2D = batch.inputs;
        if (spec.trainableBlocks > 0) {
          const activations = tailModel.apply(tf.reshape(batch.inputs, [n * side * side, channels]), n, side);
          pooled = side === 1 ? activations : tf.mean(tf.reshape(activations, [n, side * side, PREFIX_CHANNELS[0]]), 1);
        }
        return applyHiddenLayers(head, pooled, spec.dropout, options);
      });
    },
    head: (features) => applyClassHead(head, features),
    dispose: () => [...created, ...head.variables].forEach((variable) => variable.dispose()),
  };
}
