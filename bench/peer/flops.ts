// FLOPs of one training step, counted analytically so "GFLOP/s" means the same thing for both
// frameworks. Counted: matrix products only, 2 FLOPs per multiply-add (element-wise ops, layer
// norm, softmax, embedding lookups and the optimizer are left out: they are memory-bound and
// small next to the products).
// - dense layer, T rows, in x out weights: forward 2 T in out; backward 2 T in out for the
//   weight gradient plus 2 T in out for the input gradient, which neither framework computes for
//   a layer whose input is data (the MLP's first layer).
// - attention, per layer: scores Q K^T and context P V are 2 B L^2 D each forward
//   (B L^2 D multiply-adds over all heads); backward twice that: 12 B L^2 D in all.
import { BATCH, MLP_DIMS, TRANSFORMER_DIMS } from './workloads.js';

function denseFlops(rows: number, inDim: number, outDim: number, inputGradient: boolean): number {
  const product = 2 * rows * inDim * outDim;
  return product * (inputGradient ? 3 : 2);
}

export function mlpStepFlops(): number {
  const widths = [MLP_DIMS.input, ...MLP_DIMS.hidden, MLP_DIMS.classes];
  let total = 0;
  for (let layer = 0; layer + 1 < widths.length; layer++) {
    total += denseFlops(BATCH, widths[layer], widths[layer + 1], layer > 0);
  }
  return total;
}

export function transformerStepFlops(): number {
  const { dModel, ffDim, layers, seqLen, classes } = TRANSFORMER_DIMS;
  const tokens = BATCH * seqLen;
  const perLayer =
    4 * denseFlops(tokens, dModel, dModel, true) +
    denseFlops(tokens, dModel, ffDim, true) +
    denseFlops(tokens, ffDim, dModel, true) +
    12 * BATCH * seqLen * seqLen * dModel;
  return layers * perLayer + denseFlops(BATCH, dModel, classes, true);
}
