import type { AlphaScheduleKind } from './types.js';

/** s(p) for each schedule, p = training progress in [0, 1] (docs/DSGD.md §The scaler). */
const scheduleShapes: Record<AlphaScheduleKind, (progress: number) => number> = {
  linear: (p) => p,
  cosine: (p) => (1 - Math.cos(Math.PI * p)) / 2,
  // The paper found this worse: near-zero weight on C late in training shrinks the effective batch.
  linear_descending: (p) => 1 - p,
  static: () => 1,
};

/** alpha(p) = lambda * s(p): the weight DSGD gives correctly classified examples at progress p. */
export function dynamicScaler(schedule: AlphaScheduleKind, lambda: number): (progress: number) => number {
  if (!Number.isFinite(lambda) || lambda < 0) {
    throw new Error(`dsgd lambda must be a finite number >= 0, got ${lambda}`);
  }
  const shape = scheduleShapes[schedule];
  if (shape === undefined) throw new Error(`unknown alpha schedule '${String(schedule)}'`);
  return (progress) => lambda * shape(Math.min(1, Math.max(0, progress)));
}
