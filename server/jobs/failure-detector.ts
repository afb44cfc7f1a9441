// When a phase counts as failing, as a plug-in: the remedy runner feeds a detector the phase's
// telemetry in the trainer's order and asks, after each step and epoch end, whether it has
// failed; a remedy then stops the phase. Today's only detector is the collapse watch
// (remedy-policy.ts: a collapsed epoch-end validation and a vanishing gradient), so a run is
// stopped as early as those two signals allow, no earlier. A learned early-failure predictor
// (scoring a run from its first 10-20% of steps: per-class correct shares, head conflict
// cosine, prediction entropy and class shares, loss and gradient-norm trend) does not exist
// yet: it would implement FailureDetector, report its score and operating point in `reason`,
// and be chosen in failureDetectorFor. Pure: no tensors, no I/O.
import type { EpochReport, StepTelemetry, Verdict } from '../engine/tf-free.js';
import {
  collapseSignal,
  FRESH_WATCH,
  isHealthy,
  watchEvaluation,
  watchStep,
  type CollapseWatch,
  type FailureSignal,
  type RemedySettings,
} from './remedy-policy.js';

export interface FailureDetector {
  /** Names it in decisions (RemedyDecision.detector). */
  readonly name: string;
  observeStep(telemetry: Pick<StepTelemetry, 'step' | 'gradientNorm'>): void;
  observeEpoch(report: Pick<EpochReport, 'validation'>): void;
  /** Set once the phase so far has failed, or is predicted to: a remedy may stop it now. */
  failure(): FailureSignal | undefined;
  /** Whether a checkpoint taken now is one a remedy may return to. */
  healthy(): boolean;
  /** The latest epoch-end validation verdict (absent before the first), for the ended phase's record. */
  verdict(): Verdict | undefined;
}

/** Both of the collapse signals at once (collapseSignal in remedy-policy.ts). */
export class CollapseWatchDetector implements FailureDetector {
  readonly name = 'collapse_watch';
  private watch: CollapseWatch = FRESH_WATCH;

  constructor(private readonly settings: RemedySettings) {}

  observeStep(telemetry: Pick<StepTelemetry, 'step' | 'gradientNorm'>): void {
    this.watch = watchStep(this.watch, telemetry, this.settings);
  }

  observeEpoch(report: Pick<EpochReport, 'validation'>): void {
    this.watch = watchEvaluation(this.watch, report.validation.verdict);
  }

  failure(): FailureSignal | undefined {
    return collapseSignal(this.watch, this.settings);
  }

  healthy(): boolean {
    return isHealthy(this.watch);
  }

  verdict(): Verdict | undefined {
    return this.watch.verdict;
  }
}

/** The detector a run's phases are judged by (one per phase: a detector holds that phase's history). */
export function failureDetectorFor(settings: RemedySettings): FailureDetector {
  return new CollapseWatchDetector(settings);
}
