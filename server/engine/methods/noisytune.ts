import * as tf from '@tensorflow/tfjs';
import type { ClassifierModel } from '../models/classifier.js';
import { mixSeed } from '../random.js';
import { plainGradient, type TrainingMethod } from './method.js';

/**
 * p + (U(0,1) - 0.5) * noise * std(p) for every parameter tensor p, drawn from `seed` and the
 * parameter's position. A constant tensor (std 0: fresh biases, layer-norm gains) is left as is,
 * which is what the per-matrix scaling implies.
 */
export function perturbParameters(model: ClassifierModel, noise: number, seed: number): void {
  model.trainable.forEach((parameter, index) => {
    tf.tidy(() => {
      const { variance } = tf.moments(parameter);
      const scale = tf.mul(tf.sqrt(variance), noise);
      const uniform = tf.randomUniform(parameter.shape, -0.5, 0.5, 'float32', mixSeed(seed, index));
      parameter.assign(tf.add(parameter, tf.mul(uniform, scale)));
    });
  });
}

/**
 * NoisyTune (Wu et al. 2022): perturb the starting weights once, scaled per matrix by its own
 * spread, then fine-tune plainly. noise is the paper's lambda (about 0.15).
 */
export function createNoisyTune(noise: number): TrainingMethod {
  if (!Number.isFinite(noise) || noise < 0) throw new Error(`noisytune noise must be >= 0, got ${noise}`);
  return {
    kind: 'noisytune',
    prepare: (model, seed) => perturbParameters(model, noise, seed),
    gradient: plainGradient,
  };
}
