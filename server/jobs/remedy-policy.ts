// Auto-remedy as pure decisions on telemetry: when a run counts as collapsed, which of its
// checkpoints count as healthy, and what to do about a collapse. No tensors, no I/O: the
// worker (remedy-runner.ts) feeds it what the trainer reports and acts on the answer. The
// escalating policy's decisions are in escalation-policy.ts; its vocabulary is here, below
// every other remedy module.
import type { MethodSpec, StepTelemetry, Verdict } from '../engine/tf-free.js';

/** Every auto-remedy notice starts with this (observability counts them by it). */
export const AUTO_REMEDY_PREFIX = 'auto-remedy:';

export type RemedyPolicy = 'continue_under_dsgd' | 'restart_next_seed' | 'escalate';

export interface RemedySettings {
  readonly policy: RemedyPolicy;
  /** Consecutive steps the gradient norm must stay below minGradientNorm. */
  readonly windowSteps: number;
  readonly minGradientNorm: number;
  /** Remedies per run; a collapse after the last one ends the run as it is. */
  readonly maxRestarts: number;
  /** The escalating policy's limits; absent for the others (and then DEFAULT_ESCALATION for it). */
  readonly escalation?: EscalationSettings;
}

export interface EscalationSettings {
  /** Extra optimizer steps the job may train, as a fraction of the plain run's (every seed once). */
  readonly maxExtraCompute: number;
  /** A run's restart switches method from its n-th failure on (1 = the first). */
  readonly escalateAfterRunFailures: number;
  /** Every restart switches method once this many of the job's seeds have failed. */
  readonly escalateAfterFailedSeeds: number;
}

/** spec.proto's defaults: 50% extra steps, switch at a run's second failure or the job's third failed seed. */
export const DEFAULT_ESCALATION: EscalationSettings = { maxExtraCompute: 0.5, escalateAfterRunFailures: 2, escalateAfterFailedSeeds: 3 };

export type EscalationKind = 'restart' | 'switch_method' | 'give_up';

/** The job's extra compute under the escalating policy, in optimizer steps. */
export interface RemedyBudget {
  /** Seeds x the run's planned steps: the plain run. */
  readonly plainSteps: number;
  /** floor(maxExtraCompute x plainSteps). */
  readonly limitSteps: number;
  /** Spent by the job's restarts, the decision it is reported with included. */
  readonly usedSteps: number;
  readonly leftSteps: number;
}

/** One decision of the escalating policy and what it was based on (RemedyDecision on the wire). */
export interface EscalationDecision {
  readonly kind: EscalationKind;
  /** The failure detector that fired (failure-detector.ts). */
  readonly detector: string;
  /** The rule that chose the kind, in words. */
  readonly why: string;
  /** The run's failures so far, this one included. */
  readonly runFailures: number;
  /** The job's seeds that have failed at least once, this one included. */
  readonly failedSeeds: number;
  readonly trainClassCounts: readonly number[];
  readonly imbalanced: boolean;
  readonly budget: RemedyBudget;
}

/**
 * What an AutoRemedy with zero fields means. The policy is the one bench/STABILITY.md
 * ("Auto-remedy") found to recover more collapsed runs.
 */
export const DEFAULT_REMEDY: RemedySettings = {
  policy: 'restart_next_seed',
  windowSteps: 20,
  minGradientNorm: 1e-3,
  maxRestarts: 3,
};

/** The method CONTINUE_UNDER_DSGD switches to: the paper's DSGD with its defaults. */
export const REMEDY_DSGD: MethodSpec = { kind: 'dsgd', lambda: 1, schedule: 'linear' };
/** The k-th restart of seed s runs under s + k * RESTART_SEED_STRIDE (skipping seeds in use). */
export const RESTART_SEED_STRIDE = 1000;

/** What the telemetry of the current phase says so far. */
export interface CollapseWatch {
  /** Latest step seen. */
  readonly step: number;
  /** Consecutive steps, ending at `step`, whose gradient norm was below the minimum. */
  readonly lowGradientSteps: number;
  /** The engine's verdict on the latest epoch-end validation; absent before the first. */
  readonly verdict?: Verdict;
}

export const FRESH_WATCH: CollapseWatch = { step: 0, lowGradientSteps: 0 };

export function watchStep(
  watch: CollapseWatch,
  telemetry: Pick<StepTelemetry, 'step' | 'gradientNorm'>,
  settings: RemedySettings,
): CollapseWatch {
  // NaN is not "vanishing": a diverged run is not the collapse this remedies.
  const low = telemetry.gradientNorm < settings.minGradientNorm;
  return { ...watch, step: telemetry.step, lowGradientSteps: low ? watch.lowGradientSteps + 1 : 0 };
}

export function watchEvaluation(watch: CollapseWatch, verdict: Verdict): CollapseWatch {
  return { ...watch, verdict };
}

export interface CollapseSignal {
  readonly step: number;
  /** For notices and RunPhase.reason. */
  readonly reason: string;
}

/** What any failure detector (failure-detector.ts) reports; the collapse watch's signal is one. */
export type FailureSignal = CollapseSignal;

/**
 * A collapse needs both signals: the engine's 'collapsed' verdict on an epoch-end validation
 * (classificationVerdict: one class predicted far beyond its share of the validation set, the
 * others almost never recalled) and a vanishing gradient.
 */
export function collapseSignal(watch: CollapseWatch, settings: RemedySettings): CollapseSignal | undefined {
  if (watch.verdict !== 'collapsed' || watch.lowGradientSteps < settings.windowSteps) return undefined;
  return {
    step: watch.step,
    reason:
      `collapsed at step ${watch.step}: one class on validation, ` +
      `gradient norm < ${settings.minGradientNorm} for ${watch.lowGradientSteps} steps`,
  };
}

/**
 * A checkpoint worth returning to: the latest validation (if any) was not collapsed and the
 * gradient was not vanishing at that step.
 */
export function isHealthy(watch: CollapseWatch): boolean {
  return watch.verdict !== 'collapsed' && watch.lowGradientSteps === 0;
}

/** The phase a run trains in now. */
export interface CurrentPhase {
  /** The run's own seed (the job's seed slot); phases may train under other seeds. */
  readonly runSeed: number;
  /** 0 for the run's first phase. */
  readonly index: number;
  readonly seed: number;
  readonly method: MethodSpec;
}

export type RemedyDecision =
  | { readonly kind: 'continue'; readonly method: MethodSpec; readonly fromStep: number; readonly notice: string }
  | {
      readonly kind: 'restart';
      readonly seed: number;
      /** Absent: the phase's own method. */
      readonly method?: MethodSpec;
      readonly notice: string;
      /** The escalating policy's record of it. */
      readonly escalation?: EscalationDecision;
    }
  | { readonly kind: 'give_up'; readonly notice: string; readonly escalation?: EscalationDecision };

export interface RemedyInput {
  readonly settings: RemedySettings;
  readonly signal: CollapseSignal;
  readonly current: CurrentPhase;
  /** Seeds the job's runs use and seeds earlier phases trained under: a restart takes none of them. */
  readonly usedSeeds: ReadonlySet<number>;
  /** Step of the newest healthy checkpoint of the current phase (0: only its start is healthy). */
  readonly healthyStep: number;
}

/** The fixed policies' decision (the escalating one's is decideEscalation, escalation-policy.ts). */
export function decideRemedy(input: RemedyInput): RemedyDecision {
  const { settings, signal, current } = input;
  const remedies = current.index;
  const giveUp = (why: string): RemedyDecision => ({ kind: 'give_up', notice: giveUpNotice(current.runSeed, signal, why) });
  if (remedies >= settings.maxRestarts) return giveUp(`max_restarts ${settings.maxRestarts} reached`);
  const next = current.index + 1;
  const what = `(remedy ${next} of ${settings.maxRestarts})`;
  if (settings.policy !== 'continue_under_dsgd') {
    const seed = nextUnusedSeed(current.runSeed, input.usedSeeds);
    return {
      kind: 'restart',
      seed,
      notice: `${phaseStartPrefix(current.runSeed, next, 0)} ${signal.reason}; restarting under seed ${seed} ${what}`,
    };
  }
  // Same seed, same data order, same method from the same state: the collapse would repeat.
  if (sameMethod(current.method, REMEDY_DSGD)) return giveUp('it already trains under dsgd λ=1, linear');
  return {
    kind: 'continue',
    method: REMEDY_DSGD,
    fromStep: input.healthyStep,
    notice:
      `${phaseStartPrefix(current.runSeed, next, input.healthyStep)} ${signal.reason}; continuing from the ` +
      `${input.healthyStep === 0 ? 'start' : `healthy checkpoint at step ${input.healthyStep}`} under dsgd λ=1, linear ${what}`,
  };
}

export function giveUpNotice(runSeed: number, signal: FailureSignal, why: string): string {
  return `${AUTO_REMEDY_PREFIX} seed ${runSeed}: ${signal.reason}; no further remedy (${why}), the run ends as it is`;
}

/** The policy a remedy carries out: each policy has its one kind of remedy. */
export function policyOf(decision: Exclude<RemedyDecision, { kind: 'give_up' }>): RemedyPolicy {
  return decision.kind === 'restart' ? 'restart_next_seed' : 'continue_under_dsgd';
}

/** seed + 1000 k for the smallest k >= 1 whose seed is unused (uint32, like the wire's seeds). */
export function nextUnusedSeed(runSeed: number, used: ReadonlySet<number>): number {
  for (let k = 1; ; k += 1) {
    const seed = (runSeed + k * RESTART_SEED_STRIDE) % 2 ** 32;
    if (!used.has(seed)) return seed;
  }
}

function sameMethod(a: MethodSpec, b: MethodSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `auto-remedy: seed S phase P from step N:`, the start of every phase-change notice (P counts from 1). */
export function phaseStartPrefix(runSeed: number, phase: number, fromStep: number): string {
  return `${AUTO_REMEDY_PREFIX} seed ${runSeed} phase ${phase + 1} from step ${fromStep}:`;
}
