import * as tf from '@tensorflow/tfjs';

// TF.js keeps one global registry of variable names and throws on a duplicate, so two live
// models of one family (a training run and an Evaluate call in the same thread) would collide.
// A model asks for its stable names through registrableName; a clash gets an instance suffix
// that parameterName strips again, so weights and checkpoints always key on the stable name.

const INSTANCE_SUFFIX = /@\d+$/;
let instanceCounter = 0;

/** `stableName` if free in TF.js's registry, else `stableName@<n>`. */
export function registrableName(stableName: string): string {
  const registered = tf.engine().registeredVariables;
  if (registered[stableName] === undefined) return stableName;
  let candidate: string;
  do {
    instanceCounter += 1;
    candidate = `${stableName}@${instanceCounter}`;
  } while (registered[candidate] !== undefined);
  return candidate;
}

/** The stable name save/load and checkpoints use for a variable. */
export function parameterName(variable: tf.Variable): string {
  return variable.name.replace(INSTANCE_SUFFIX, '');
}
