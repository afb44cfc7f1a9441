// One seed's training as a sequence of phases (worker side). Without auto-remedy it is one
// engine train() call. With it, the run's telemetry goes through a failure detector
// (failure-detector.ts); once it fires, the policy decides (remedy-policy.ts, or
// escalation-policy.ts against the job's shared ledger) and the phase stops for the next: the
// same run continued from its last healthy checkpoint under DSGD, or a fresh start under
// another seed (and, escalating, perhaps another method). The engine stays as it is: a phase
// is a train() call with another method spec and/or seed and resumeFrom.
import type { EpochReport, RunSpec, StepTelemetry, TrainerCheckpoint, TrainHooks, TrainOutcome } from '../../engine/index.js';
import { failureDetectorFor, type FailureDetector } from '../failure-detector.js';
import type { CurrentPhase, EscalationDecision, RemedyDecision, RemedyPolicy } from '../remedy-policy.js';
import type { RunPhase } from '../types.js';
import { decidePhaseRemedy, runContextFor, type RunContext } from './phase-decisions.js';
import type { RemedyRequest, TrainProgress } from './protocol.js';

export type PhaseTrainer = (
  phase: { readonly run: RunSpec; readonly resumeFrom?: TrainerCheckpoint; readonly checkpointEverySteps: number },
  hooks: TrainHooks,
) => Promise<TrainOutcome>;

export interface RemediedTrainingOptions {
  /** The run as the job specifies it (its seed is the run's seed). */
  readonly run: RunSpec;
  /** A checkpoint of the run's current phase (the last of remedy.phases) to continue from. */
  readonly resumeFrom?: TrainerCheckpoint;
  /** Checkpoints leave the worker every n steps and at epoch ends (0: epoch ends only; absent: never). */
  readonly durableEverySteps?: number;
  readonly remedy?: RemedyRequest;
  /** Training examples per class (after imbalance): what the escalating policy judges imbalance on. */
  readonly trainClassCounts?: readonly number[];
  readonly trainPhase: PhaseTrainer;
  readonly report: (progress: TrainProgress) => void;
  readonly stopRequest: () => 'continue' | 'stop' | 'suspend';
  readonly now: () => number;
  /** Tensor memory now, sampled after every step. */
  readonly memoryBytes: () => number;
  readonly encode: (checkpoint: TrainerCheckpoint) => Uint8Array;
}

export interface RemediedOutcome {
  readonly outcome: TrainOutcome;
  readonly peakMemoryBytes: number;
}

interface PhaseStart {
  readonly phase: CurrentPhase;
  readonly startStep: number;
  readonly resumeFrom?: TrainerCheckpoint;
  /** The escalating policy's decision that started it. */
  readonly startedBy?: EscalationDecision;
  /** The policy gave up in this phase already (an earlier process recorded it): no remedy is left. */
  readonly exhausted?: boolean;
}

export async function trainWithRemedies(options: RemediedTrainingOptions): Promise<RemediedOutcome> {
  const { run, remedy } = options;
  const earlier = remedy?.phases ?? [];
  const last = earlier.at(-1);
  const context = runContextFor(run, remedy);
  let start: PhaseStart = {
    phase: { runSeed: run.seed, index: Math.max(0, earlier.length - 1), seed: last?.seed ?? run.seed, method: last?.method ?? run.method },
    startStep: last?.startStep ?? 0,
    ...(options.resumeFrom === undefined ? {} : { resumeFrom: options.resumeFrom }),
    ...(last?.startedBy === undefined ? {} : { startedBy: last.startedBy }),
    ...(last?.gaveUp === undefined ? {} : { exhausted: true }),
  };
  let peakMemoryBytes = 0;
  for (;;) {
    const trained = await new WatchedPhase(
      options,
      start,
      context,
      (bytes) => (peakMemoryBytes = Math.max(peakMemoryBytes, bytes)),
    ).train();
    if (trained.next === undefined) return { outcome: trained.outcome, peakMemoryBytes };
    const { next, ended, notice, policy } = trained.next;
    context.usedSeeds.add(next.phase.seed);
    options.report({
      kind: 'phase',
      index: next.phase.index,
      policy,
      ended,
      next: openPhase(next),
      notice,
      ...(next.startedBy === undefined ? {} : { decision: next.startedBy }),
    });
    // Stored with the new phase, so a restart right now resumes it where it begins.
    if (next.resumeFrom !== undefined && options.durableEverySteps !== undefined) {
      options.report({ kind: 'checkpoint', step: next.startStep, phase: next.phase.index, encoded: options.encode(next.resumeFrom) });
    }
    const request = options.stopRequest();
    if (request !== 'continue') {
      const stopped: TrainOutcome = { stopped: true, steps: next.startStep, meanStepSeconds: trained.outcome.meanStepSeconds, weights: [] };
      return { outcome: stopped, peakMemoryBytes };
    }
    start = next;
  }
}

/** How a phase ended: `next` is set when a remedy ended it. */
interface PhaseResult {
  readonly outcome: TrainOutcome;
  readonly next?: { readonly next: PhaseStart; readonly ended: RunPhase; readonly notice: string; readonly policy: RemedyPolicy };
}

type Remedy = Exclude<RemedyDecision, { kind: 'give_up' }>;

/**
 * One phase of a run: the trainer's hooks, watching the telemetry for a collapse and keeping
 * the checkpoints a remedy or a restart may need. train() runs it once.
 */
class WatchedPhase implements TrainHooks {
  /**
   * Only when checkpoints are wanted (durable ones, or healthy states to return to): the
   * trainer captures none without this hook.
   */
  readonly onCheckpoint?: (checkpoint: TrainerCheckpoint) => void;
  /** Judges the phase; absent without auto-remedy. */
  private readonly detector?: FailureDetector;
  /** Latest step seen. */
  private step = 0;
  /** The run's planned steps, from the step telemetry. */
  private totalSteps = 0;
  /** The newest checkpoint taken while the run looked healthy: where a DSGD switch resumes. */
  private healthy?: TrainerCheckpoint;
  private remedy?: Remedy;
  private remedyReason = '';
  /** No remedy is left: the phase trains on to its end. */
  private exhausted: boolean;
  private suspending = false;
  private lastCaptured?: { readonly checkpoint: TrainerCheckpoint; forwarded: boolean };

  constructor(
    private readonly options: RemediedTrainingOptions,
    private readonly start: PhaseStart,
    private readonly context: RunContext,
    private readonly sampleMemory: (bytes: number) => void,
  ) {
    const settings = options.remedy?.settings;
    if (settings !== undefined) this.detector = failureDetectorFor(settings);
    this.exhausted = start.exhausted === true;
    if (options.durableEverySteps !== undefined || settings !== undefined) {
      this.onCheckpoint = (checkpoint) => this.keepCheckpoint(checkpoint);
    }
  }

  async train(): Promise<PhaseResult> {
    const { phase, resumeFrom, startStep } = this.start;
    const outcome = await this.options.trainPhase(
      {
        run: { ...this.options.run, seed: phase.seed, method: phase.method },
        ...(resumeFrom === undefined ? {} : { resumeFrom }),
        checkpointEverySteps: engineCheckpointEvery(this.options.durableEverySteps, this.options.remedy?.settings?.windowSteps),
      },
      this,
    );
    const { remedy } = this;
    const policy = this.options.remedy?.settings.policy;
    if (remedy === undefined || policy === undefined) return { outcome };
    const ended: RunPhase = {
      seed: phase.seed,
      method: phase.method,
      startStep,
      endStep: outcome.steps,
      verdict: this.detector?.verdict() ?? 'collapsed',
      reason: this.remedyReason,
      ...(this.start.startedBy === undefined ? {} : { startedBy: this.start.startedBy }),
    };
    return { outcome, next: { next: nextPhase(phase, remedy, this.healthy), ended, notice: remedy.notice, policy } };
  }

  onStep(telemetry: StepTelemetry): void {
    this.sampleMemory(this.options.memoryBytes());
    this.options.report({ kind: 'step', telemetry });
    this.step = telemetry.step;
    this.totalSteps = telemetry.totalSteps;
    this.detector?.observeStep(telemetry);
    this.check();
  }

  onEpochEnd(report: EpochReport): void {
    this.options.report({ kind: 'epoch', report });
    this.detector?.observeEpoch(report);
    this.check();
  }

  /** An arrow, not a method: the trainer hands it on detached (to weight loading). */
  readonly onNotice = (message: string): void => this.options.report({ kind: 'notice', message });

  now(): number {
    return this.options.now();
  }

  async betweenSteps(): Promise<'continue' | 'stop' | 'suspend'> {
    if (this.remedy !== undefined) return 'stop';
    const request = this.options.stopRequest();
    // The trainer takes one checkpoint per step: one kept here only must still be stored.
    const last = this.lastCaptured;
    if (request === 'suspend' && last !== undefined && !last.forwarded && last.checkpoint.step === this.step) {
      this.forward(last.checkpoint);
      last.forwarded = true;
    }
    this.suspending = request === 'suspend';
    return request;
  }

  private keepCheckpoint(checkpoint: TrainerCheckpoint): void {
    const durable = this.options.durableEverySteps;
    if (this.remedy === undefined && this.detector?.healthy() === true) this.healthy = checkpoint;
    const isDurable =
      durable !== undefined && (this.suspending || checkpoint.stepInEpoch === 0 || (durable > 0 && checkpoint.step % durable === 0));
    if (isDurable) this.forward(checkpoint);
    this.lastCaptured = { checkpoint, forwarded: isDurable };
  }

  private forward(checkpoint: TrainerCheckpoint): void {
    this.options.report({
      kind: 'checkpoint',
      step: checkpoint.step,
      phase: this.start.phase.index,
      encoded: this.options.encode(checkpoint),
    });
  }

  /** Asks the policy, once the detector fires; a decision ends the phase at the next step. */
  private check(): void {
    const settings = this.options.remedy?.settings;
    if (settings === undefined || this.remedy !== undefined || this.exhausted) return;
    const signal = this.detector?.failure();
    if (signal === undefined) return;
    const decided = decidePhaseRemedy(this.context, {
      settings,
      signal,
      detector: this.detector?.name ?? '',
      current: this.start.phase,
      healthyStep: this.healthy?.step ?? 0,
      totalSteps: this.totalSteps,
      trainClassCounts: this.options.trainClassCounts ?? [],
    });
    if (decided.kind === 'give_up') {
      // The phase trains on to its end: the run ends with what it has.
      this.exhausted = true;
      const { escalation } = decided;
      if (escalation === undefined) this.options.report({ kind: 'notice', message: decided.notice });
      else this.options.report({ kind: 'remedy_gave_up', index: this.start.phase.index, decision: escalation, notice: decided.notice });
      return;
    }
    this.remedy = decided;
    this.remedyReason = signal.reason;
  }
}

function nextPhase(current: CurrentPhase, decision: Remedy, healthy: TrainerCheckpoint | undefined): PhaseStart {
  const index = current.index + 1;
  if (decision.kind === 'restart') {
    return {
      phase: { ...current, index, seed: decision.seed, method: decision.method ?? current.method },
      startStep: 0,
      ...(decision.escalation === undefined ? {} : { startedBy: decision.escalation }),
    };
  }
  // The method's own state (swa snapshots) belongs to the method being left.
  const resumeFrom = healthy === undefined ? undefined : withoutMethodState(healthy);
  return {
    phase: { ...current, index, method: decision.method },
    startStep: resumeFrom?.step ?? 0,
    ...(resumeFrom === undefined ? {} : { resumeFrom }),
  };
}

function withoutMethodState(checkpoint: TrainerCheckpoint): TrainerCheckpoint {
  const rest: { -readonly [K in keyof TrainerCheckpoint]?: TrainerCheckpoint[K] } = { ...checkpoint };
  delete rest.method;
  return rest as TrainerCheckpoint;
}

function openPhase(start: PhaseStart): RunPhase {
  const { phase, startStep, startedBy } = start;
  return {
    seed: phase.seed,
    method: phase.method,
    startStep,
    endStep: startStep,
    reason: '',
    ...(startedBy === undefined ? {} : { startedBy }),
  };
}

/** The engine's checkpoint cadence: the durable one, and often enough to have healthy states to return to. */
export function engineCheckpointEvery(durableEvery: number | undefined, windowSteps: number | undefined): number {
  const durable = durableEvery ?? 0;
  if (windowSteps === undefined) return durable;
  return durable > 0 ? greatestCommonDivisor(durable, windowSteps) : windowSteps;
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}
