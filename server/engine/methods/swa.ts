import * as tf from '@tensorflow/tfjs';
import type { ClassifierModel } from '../models/classifier.js';
import type { MethodState } from '../types.js';
import { plainGradient, type AfterStepInfo, type TrainingMethod } from './method.js';

export interface SwaOptions {
  /** Snapshot every n optimizer steps instead of at epoch ends (the default). */
  readonly snapshotEverySteps?: number;
}

/**
 * Weight averaging over checkpoints: trains plainly, snapshots the weights at each epoch end
 * (or every n steps), and at the end writes the mean of the last `window` snapshots into the
 * model. Snapshots are kept tensors (window x model size), freed on eviction and in dispose().
 */
export function createSwa(window: number, options: SwaOptions = {}): TrainingMethod {
  if (!Number.isInteger(window) || window < 1) throw new Error(`swa window must be an integer >= 1, got ${window}`);
  const every = options.snapshotEverySteps;
  if (every !== undefined && (!Number.isInteger(every) || every < 1)) {
    throw new Error(`swa snapshotEverySteps must be an integer >= 1, got ${every}`);
  }
  const snapshots: tf.Tensor[][] = [];
  const isSnapshotPoint = (info: AfterStepInfo): boolean =>
    every === undefined ? info.isEpochEnd : info.step % every === 0 || info.step === info.totalSteps;

  function release(snapshot: tf.Tensor[]): void {
    tf.dispose(snapshot);
  }

  return {
    kind: 'swa',
    gradient: plainGradient,
    afterStep(model: ClassifierModel, info: AfterStepInfo): void {
      if (!isSnapshotPoint(info)) return;
      snapshots.push(model.trainable.map((variable) => tf.keep(tf.clone(variable))));
      if (snapshots.length > window) release(snapshots.shift() ?? []);
    },
    finalize(model: ClassifierModel): void {
      if (snapshots.length === 0) return;
      tf.tidy(() => {
        model.trainable.forEach((variable, index) => {
          const sum = tf.addN(snapshots.map((snapshot) => snapshot[index]));
          variable.assign(tf.div(sum, snapshots.length));
        });
      });
    },
    dispose(): void {
      snapshots.splice(0).forEach(release);
    },
    exportState(): MethodState {
      // A snapshot holds one tensor per trainable variable, in the model's order: named by position.
      return {
        kind: 'swa',
        snapshots: snapshots.map((snapshot) =>
          snapshot.map((tensor, index) => ({
            name: String(index),
            shape: [...tensor.shape],
            values: Float32Array.from(tensor.dataSync() as Float32Array),
          })),
        ),
      };
    },
    importState(state: MethodState): void {
      if (state.kind !== 'swa') throw new Error(`method state is for '${state.kind}', this run uses 'swa'`);
      snapshots.splice(0).forEach(release);
      for (const saved of state.snapshots.slice(-window)) {
        snapshots.push(saved.map((weight) => tf.keep(tf.tensor(weight.values, [...weight.shape], 'float32'))));
      }
    },
  };
}
