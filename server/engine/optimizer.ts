import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec, OptimizerState } from './types.js';
import { parameterName } from './models/parameter-names.js';
import { exportWeights } from './models/weight-transfer.js';
import { adamUpdate, fastKernelsActive, gradientNormOf, normFromSquaresOf } from './kernels/index.js';

// AdamW / Adam / SGD written directly on tf.Variables (not tf.train.*) so the state is ours to
// export and import for checkpoints. Formulas follow PyTorch's torch.optim so numbers compare.

export interface ParameterOptimizer {
  /**
   * One update from gradients keyed by tf variable name, first clipped by their global norm to
   * the spec's clipNorm (0: no clipping). Call inside tf.tidy.
   */
  applyGradients(grads: tf.NamedTensorMap, learningRate: number): void;
  /**
   * The same update; returns the global norm of `grads` before clipping: clipping's own when it
   * clips, else read in passing by the fused Adam kernels (a separate pass elsewhere).
   */
  applyGradientsReadingNorm(grads: tf.NamedTensorMap, learningRate: number): tf.Scalar;
  exportState(): OptimizerState;
  importState(state: OptimizerState): void;
  dispose(): void;
}

/** Slot variables (moments, momentum buffer) of one parameter, zero-initialised. */
interface Slots {
  readonly first?: tf.Variable;
  readonly second?: tf.Variable;
}

export function createOptimizer(spec: OptimizerSpec, variables: readonly tf.Variable[]): ParameterOptimizer {
  const usesMoments = spec.kind === 'adam' || spec.kind === 'adamw';
  const usesMomentum = spec.kind === 'sgd' && spec.momentum > 0;
  const zeroSlot = (variable: tf.Variable): tf.Variable => tf.variable(tf.zerosLike(variable), false);
  const slots = new Map<tf.Variable, Slots>();
  tf.tidy(() => {
    for (const variable of variables) {
      slots.set(variable, {
        first: usesMoments || usesMomentum ? zeroSlot(variable) : undefined,
        second: usesMoments ? zeroSlot(variable) : undefined,
      });
    }
  });
  let updates = 0;

  const namedSlots = (): Array<[string, tf.Variable]> =>
    variables.flatMap((variable) => {
      const { first, second } = slots.get(variable) ?? {};
      const name = parameterName(variable);
      return [
        ...(first ? [[`${name}/first`, first] as [string, tf.Variable]] : []),
        ...(second ? [[`${name}/second`, second] as [string, tf.Variable]] : []),
      ];
    });

  /** One update; returns how to read the norm of `grads` afterwards (only the caller that wants it pays). */
  const applyUpdate = (grads: tf.NamedTensorMap, learningRate: number): (() => tf.Scalar) => {
    const norm = spec.clipNorm > 0 ? globalNorm(grads) : undefined;
    const applied = norm === undefined ? grads : clipByGlobalNorm(grads, norm, spec.clipNorm);
    updates += 1;
    const biasCorrection1 = 1 - spec.beta1 ** updates;
    const biasCorrection2 = 1 - spec.beta2 ** updates;
    // Sums of squares of the gradients the fused kernels apply: the norm of `grads` unless adam's
    // L2 term changed them (then a separate pass) or clipping scaled them (then clipping's norm).
    const squares: tf.Scalar[] = [];
    let normInPassing = spec.kind === 'adamw' || spec.weightDecay === 0;
    for (const variable of variables) {
      let gradient = applied[variable.name];
      if (gradient === undefined) throw new Error(`no gradient for '${variable.name}'`);
      const { first, second } = slots.get(variable) ?? {};
      // adam and sgd: weight decay as L2 in the gradient; adamw: decoupled, below.
      if (spec.kind !== 'adamw' && spec.weightDecay > 0) gradient = tf.add(gradient, tf.mul(spec.weightDecay, variable));
      if (first && second && fastKernelsActive()) {
        // One kernel instead of ~15 stock ops per variable (kernels/adam.ts); same f32 math.
        const decay = spec.kind === 'adamw' && spec.weightDecay > 0 ? 1 - learningRate * spec.weightDecay : 1;
        const [nextValue, nextFirst, nextSecond, gradientSquares] = adamUpdate(variable, gradient, first, second, {
          beta1: spec.beta1,
          beta2: spec.beta2,
          biasCorrection1,
          biasCorrection2,
          epsilon: spec.epsilon,
          learningRate,
          decay,
        });
        squares.push(gradientSquares as tf.Scalar);
        first.assign(nextFirst);
        second.assign(nextSecond);
        variable.assign(nextValue);
      } else if (first && second) {
        normInPassing = false;
        first.assign(tf.add(tf.mul(spec.beta1, first), tf.mul(1 - spec.beta1, gradient)));
        second.assign(tf.add(tf.mul(spec.beta2, second), tf.mul(1 - spec.beta2, tf.square(gradient))));
        const denominator = tf.add(tf.sqrt(tf.div(second, biasCorrection2)), spec.epsilon);
        const update = tf.div(tf.div(first, biasCorrection1), denominator);
        const decayed = spec.kind === 'adamw' && spec.weightDecay > 0 ? tf.mul(variable, 1 - learningRate * spec.weightDecay) : variable;
        variable.assign(tf.sub(decayed, tf.mul(learningRate, update)));
      } else {
        normInPassing = false;
        if (first) first.assign(tf.add(tf.mul(spec.momentum, first), gradient));
        variable.assign(tf.sub(variable, tf.mul(learningRate, first ?? gradient)));
      }
    }
    return () => norm ?? (normInPassing ? normFromSquaresOf(squares) : globalNorm(grads));
  };

  return {
    applyGradients(grads, learningRate) {
      applyUpdate(grads, learningRate);
    },
    applyGradientsReadingNorm(grads, learningRate) {
      return applyUpdate(grads, learningRate)();
    },
    exportState() {
      const named = namedSlots();
      const values = exportWeights(named.map(([, slot]) => slot));
      return { kind: spec.kind, updates, slots: values.map((weight, i) => ({ ...weight, name: named[i][0] })) };
    },
    importState(state) {
      if (state.kind !== spec.kind) throw new Error(`optimizer state is for '${state.kind}', this run uses '${spec.kind}'`);
      const byName = new Map(state.slots.map((slot) => [slot.name, slot]));
      tf.tidy(() => {
        for (const [name, slot] of namedSlots()) {
          const saved = byName.get(name);
          if (saved === undefined) throw new Error(`optimizer state lacks slot '${name}'`);
          slot.assign(tf.tensor(saved.values, slot.shape, 'float32'));
        }
      });
      updates = state.updates;
    },
    dispose() {
      for (const [, slot] of namedSlots()) slot.dispose();
    },
  };
}

/**
 * Learning rate for the optimizer step with `step` updates already done (0-based), of `totalSteps`.
 * Linear warmup over ceil(warmupFraction * T) steps (the first step already gets a non-zero
 * rate), then linear decay reaching 0 at T, or flat for 'constant'.
 */
export function learningRateAt(spec: OptimizerSpec, step: number, totalSteps: number): number {
  const warmupSteps = Math.ceil(spec.warmupFraction * totalSteps);
  const warmup = warmupSteps > 0 ? Math.min(1, (step + 1) / warmupSteps) : 1;
  if (spec.lrSchedule === 'constant' || step < warmupSteps) return spec.learningRate * warmup;
  const decay = Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  return spec.learningRate * Math.min(1, decay);
}

/** sqrt(sum of squares) over every gradient tensor. */
export function globalNorm(grads: tf.NamedTensorMap): tf.Scalar {
  // One kernel instead of two per variable plus addN and sqrt (kernels/telemetry-kernels.ts).
  if (fastKernelsActive()) return gradientNormOf(Object.values(grads));
  return tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** Scales all gradients by min(1, clipNorm / norm); clipNorm 0 returns them unchanged. */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, norm: tf.Scalar, clipNorm: number): tf.NamedTensorMap {
  if (clipNorm <= 0) return grads;
  return tf.tidy(() => {
    const scale = tf.minimum(1, tf.div(clipNorm, tf.maximum(norm, 1e-12)));
    const clipped: tf.NamedTensorMap = {};
    for (const [name, gradient] of Object.entries(grads)) clipped[name] = tf.mul(gradient, scale);
    return clipped;
  });
}
