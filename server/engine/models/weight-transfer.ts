import * as tf from '@tensorflow/tfjs';
import type { NamedWeight, Weights } from '../types.js';
import type { ClassifierModel } from './classifier.js';
import { parameterName } from './parameter-names.js';

/** Variables as plain data under their stable names (a synchronous read: for run ends and checkpoints). */
export function exportWeights(variables: readonly tf.Variable[]): Weights {
  return variables.map((variable) => ({
    name: parameterName(variable),
    shape: [...variable.shape],
    values: Float32Array.from(variable.dataSync() as Float32Array),
  }));
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((size, axis) => size === b[axis]);

/**
 * Writes weights into the model's variables by stable name.
 * 'exact': every variable must be given with its shape (Evaluate/Predict of a trained model).
 * 'initial': pretrained start; variables not given keep their fresh init, and a head of a
 * different shape (another class count) is skipped, so the body is reused under a fresh head.
 */
export function loadWeights(
  model: ClassifierModel,
  weights: Weights,
  mode: 'exact' | 'initial',
  onNotice?: (message: string) => void,
): void {
  const byName = new Map<string, NamedWeight>(weights.map((weight) => [weight.name, weight]));
  const headVariables = new Set<tf.Variable>([model.headKernel, model.headBias]);
  const kept: string[] = [];
  tf.tidy(() => {
    for (const variable of model.trainable) {
      const name = parameterName(variable);
      const weight = byName.get(name);
      byName.delete(name);
      if (weight === undefined) {
        if (mode === 'exact') throw new Error(`weights lack parameter '${name}'`);
        kept.push(name);
        continue;
      }
      if (!sameShape(weight.shape, variable.shape)) {
        if (mode === 'initial' && headVariables.has(variable)) {
          kept.push(name);
          continue;
        }
        throw new Error(`parameter '${name}' has shape [${weight.shape}], the model expects [${variable.shape}]`);
      }
      variable.assign(tf.tensor(weight.values, [...weight.shape], 'float32'));
    }
  });
  if (kept.length > 0) onNotice?.(`initial weights: kept fresh initialisation for ${kept.join(', ')}`);
  if (byName.size > 0) onNotice?.(`initial weights: ignored parameters the model lacks: ${[...byName.keys()].join(', ')}`);
}
