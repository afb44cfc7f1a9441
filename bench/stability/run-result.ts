// What one seeded run reports back, as plain data (crosses worker threads, lands in the JSON log).
import type { Verdict } from '../../server/engine/index.js';
import type { RunJob } from './protocol.js';

export interface RunResult {
  readonly job: RunJob;
  readonly accuracy: number;
  readonly balancedAccuracy: number;
  readonly macroF1: number;
  readonly verdict: Verdict;
  /** Share of test predictions falling on the most predicted class. */
  readonly topPredictionShare: number;
  /** Mean pairwise cosine of the body's features on a test sample (near 1: representation collapse). */
  readonly representationCosine: number;
  readonly steps: number;
  readonly meanStepMs: number;
  /** Mean over steps of the head-only cos(g_W, g_C) (closed form; steps with W or C empty skipped). */
  readonly meanHeadConflictCosine: number | null;
  /** Share of those steps with cosine below -0.5 (the paper's "cancellation" regime). */
  readonly strongConflictShare: number | null;
  /** Mean training loss over the last 10% of steps. */
  readonly finalTrainLoss: number;
  readonly wallSeconds: number;
}
