import * as tf from '@tensorflow/tfjs';
import type { NamedWeight, Weights } from '../../types.js';
import { denseLayer } from '../../ops.js';
import { kerasLayers, decodeLayerWeights } from './layers-artifacts.js';

// The last MobileNetV2 blocks as trainable variables. Each block sits at the network's final
// resolution (stride 1, inputSize / 32), so 1x1 convolutions are plain matMuls on [n*h*w, c]
// and the 3x3 depthwise convolution is nine shifted slices times per-channel weights: no
// Conv2DBackpropFilter / DepthwiseConv2dNativeBackpropFilter, which wasm lacks. Inference-mode
// BatchNorm (moving statistics) is folded into each convolution's kernel and bias.

/** Trainable candidates, bottom to top; trainableBlocks = k trains the last k. */
export const TAIL_BLOCKS = ['block_14', 'block_15', 'block_16', 'Conv_1'] as const;
export type TailBlock = (typeof TAIL_BLOCKS)[number];
export const MAX_TRAINABLE_BLOCKS = TAIL_BLOCKS.length;

/** The layer whose output the frozen prefix emits, by number of trainable blocks. */
export const PREFIX_OUTPUT = ['out_relu', 'block_16_project_BN', 'block_15_add', 'block_14_add', 'block_13_project_BN'] as const;
/** Channels of that output. */
export const PREFIX_CHANNELS = [1280, 320, 160, 160, 160] as const;

/** Blocks whose input and output widths match (160): Keras adds a skip connection there. */
const RESIDUAL: ReadonlySet<TailBlock> = new Set(['block_14', 'block_15']);

export const trainedBlocks = (trainableBlocks: number): readonly TailBlock[] => TAIL_BLOCKS.slice(MAX_TRAINABLE_BLOCKS - trainableBlocks);

/** Conv_1 is a single convolution: its weights need no part name. */
const tailName = (block: TailBlock, part: string): string =>
  `mobilenet_v2/${block.toLowerCase()}/${block === 'Conv_1' ? part.replace(/^conv\//, '') : part}`;

/** Keras layer names of one block's convolutions with their BatchNorms. */
function convLayers(block: TailBlock): Array<{ part: string; conv: string; norm: string }> {
  if (block === 'Conv_1') return [{ part: 'conv', conv: 'Conv_1', norm: 'Conv_1_bn' }];
  return ['expand', 'depthwise', 'project'].map((part) => ({ part, conv: `${block}_${part}`, norm: `${block}_${part}_BN` }));
}

function readValues(weights: tf.NamedTensorMap, name: string): Float32Array {
  const tensor = weights[name];
  if (tensor === undefined) throw new Error(`the MobileNetV2 artifacts lack weight '${name}'`);
  return tensor.dataSync() as Float32Array;
}

/**
 * BN-folded weights of the last `trainableBlocks` blocks from the Keras artifacts, named
 * `mobilenet_v2/<block>/<expand|depthwise|project|conv>/<kernel|bias>`. 1x1 kernels become
 * [in, out], depthwise kernels [3, 3, channels].
 */
export function extractTailWeights(artifacts: tf.io.ModelArtifacts, trainableBlocks: number): Weights {
  const blocks = trainedBlocks(trainableBlocks);
  const wanted = blocks.flatMap((block) => convLayers(block).flatMap(({ conv, norm }) => [conv, norm]));
  const epsilonOf = new Map(kerasLayers(artifacts).map((layer) => [layer.name, Number(layer.config.epsilon ?? 1e-3)]));
  const decoded = decodeLayerWeights(artifacts, new Set(wanted));
  try {
    return blocks.flatMap((block) =>
      convLayers(block).flatMap(({ part, conv, norm }): NamedWeight[] => {
        const gamma = readValues(decoded, `${norm}/gamma`);
        const beta = readValues(decoded, `${norm}/beta`);
        const mean = readValues(decoded, `${norm}/moving_mean`);
        const variance = readValues(decoded, `${norm}/moving_variance`);
        const epsilon = epsilonOf.get(norm) ?? 1e-3;
        const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + epsilon));
        const bias = beta.map((b, c) => b - mean[c] * scale[c]);
        const kernelName = part === 'depthwise' ? `${conv}/depthwise_kernel` : `${conv}/kernel`;
        const source = decoded[kernelName];
        if (source === undefined) throw new Error(`the MobileNetV2 artifacts lack weight '${kernelName}'`);
        // Keras kernels end in the output channel ([1,1,in,out] / [3,3,c,1]): scale the last channel axis.
        const channels = scale.length;
        const kernel = (source.dataSync() as Float32Array).map((value, index) => value * scale[index % channels]);
        const shape = part === 'depthwise' ? [3, 3, channels] : [source.shape[2] ?? 0, channels];
        return [
          { name: tailName(block, `${part}/kernel`), shape, values: kernel },
          { name: tailName(block, `${part}/bias`), shape: [channels], values: bias },
        ];
      }),
    );
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

interface TailLayer {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
}

export interface Tail {
  readonly variables: readonly tf.Variable[];
  /** x [n*h*w, prefix channels] -> [n*h*w, 1280]. */
  apply(x: tf.Tensor2D, n: number, side: number): tf.Tensor2D;
}

/** 'same' 3x3 depthwise convolution, stride 1, on x [n*side*side, c] with kernel [3, 3, c]. */
function depthwise3x3(x: tf.Tensor2D, kernel: tf.Tensor3D, bias: tf.Tensor1D, n: number, side: number): tf.Tensor2D {
  const channels = x.shape[1];
  const tap = (row: number, column: number): tf.Tensor1D => tf.reshape(tf.slice(kernel, [row, column, 0], [1, 1, channels]), [channels]);
  // At 1x1 resolution only the centre tap sees data; the others multiply the zero padding.
  if (side === 1) return tf.add(tf.mul(x, tap(1, 1)), bias);
  const padded = tf.pad(tf.reshape(x, [n, side, side, channels]), [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
  let sum: tf.Tensor = tf.zeros([n, side, side, channels]);
  for (let row = 0; row < 3; row++) {
    for (let column = 0; column < 3; column++) {
      sum = tf.add(sum, tf.mul(tf.slice(padded, [0, row, column, 0], [n, side, side, channels]), tap(row, column)));
    }
  }
  return tf.reshape(tf.add(sum, bias), [n * side * side, channels]);
}

/** Variables for the tail, initialised from `weights` (extractTailWeights), named as there. */
export function createTail(trainableBlocks: number, weights: Weights, createVariable: (weight: NamedWeight) => tf.Variable): Tail {
  const byName = new Map(weights.map((weight) => [weight.name, weight]));
  const layer = (block: TailBlock, part: string): TailLayer => {
    const get = (suffix: string): tf.Variable => {
      const weight = byName.get(tailName(block, `${part}/${suffix}`));
      if (weight === undefined) throw new Error(`pretrained tail weights lack ${tailName(block, `${part}/${suffix}`)}`);
      return createVariable(weight);
    };
    return { kernel: get('kernel'), bias: get('bias') };
  };
  const blocks = trainedBlocks(trainableBlocks).map((block) => ({
    block,
    layers: block === 'Conv_1' ? [layer(block, 'conv')] : [layer(block, 'expand'), layer(block, 'depthwise'), layer(block, 'project')],
  }));
  const dense = (x: tf.Tensor2D, { kernel, bias }: TailLayer): tf.Tensor2D => denseLayer(x, kernel as tf.Tensor2D, bias as tf.Tensor1D);
  return {
    variables: blocks.flatMap(({ layers }) => layers.flatMap(({ kernel, bias }) => [kernel, bias])),
    apply(x: tf.Tensor2D, n: number, side: number): tf.Tensor2D {
      let activation = x;
      for (const { block, layers } of blocks) {
        if (block === 'Conv_1') {
          activation = tf.relu6(dense(activation, layers[0]));
          continue;
        }
        const [expand, depthwise, project] = layers;
        const expanded = tf.relu6(dense(activation, expand));
        const filtered = tf.relu6(depthwise3x3(expanded, depthwise.kernel as tf.Tensor3D, depthwise.bias as tf.Tensor1D, n, side));
        const projected = dense(filtered, project);
        activation = RESIDUAL.has(block) ? tf.add(activation, projected) : projected;
      }
      return activation;
    },
  };
}
