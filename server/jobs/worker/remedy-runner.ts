// One seed's training as a sequence of phases (worker side). Without auto-remedy it is one
// engine train() call. With it, the run's telemetry goes through remedy-policy.ts; on a
// collapse the phase stops and the next starts: the same run continued from its last healthy
// checkpoint under DSGD, or a fresh start under another seed. The engine stays as it is:
// a phase is a train() call with another method spec and/or seed and resumeFrom.
import type { RunSpec, TrainerCheckpoint, TrainHooks, TrainOutcome } from '../../engine/types.js';
import {
  collapseSignal,
  decideRemedy,
  FRESH_WATCH,
  isHealthy,
  policyOf,
  watchEvaluation,
  watchStep,
  type CollapseWatch,
  type CurrentPhase,
  type RemedyDecision,
  type RemedyPolicy,
} from '../remedy-policy.js';
import type { RunPhase } from '../types.js';
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
}

export async function trainWithRemedies(options: RemediedTrainingOptions): Promise<RemediedOutcome> {
  const { run, remedy } = options;
  const earlier = remedy?.phases ?? [];
  const last = earlier.at(-1);
  const usedSeeds = new Set([run.seed, ...(remedy?.reservedSeeds ?? []), ...earlier.map((phase) => phase.seed)]);
  let start: PhaseStart = {
    phase: { runSeed: run.seed, index: Math.max(0, earlier.length - 1), seed: last?.seed ?? run.seed, method: last?.method ?? run.method },
    startStep: last?.startStep ?? 0,
    ...(options.resumeFrom === undefined ? {} : { resumeFrom: options.resumeFrom }),
  };
  let peakMemoryBytes = 0;
  for (;;) {
    const trained = await trainPhase(options, start, usedSeeds, (bytes) => (peakMemoryBytes = Math.max(peakMemoryBytes, bytes)));
    if (trained.next === undefined) return { outcome: trained.outcome, peakMemoryBytes };
    const { next, ended, notice, policy } = trained.next;
    usedSeeds.add(next.phase.seed);
    options.report({ kind: 'phase', index: next.phase.index, policy, ended, next: openPhase(next), notice });
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

/** One phase; `next` is set when a remedy ends it. */
async function trainPhase(
  opts: RemediedTrainingOptions,
  phaseStart: PhaseStart,
  usedSeeds: ReadonlySet<number>,
  sampleMemory: (bytes: number) => void,
): Promise<{ outcome: TrainOutcome; next?: { next: PhaseStart; ended: RunPhase; notice: string; policy: RemedyPolicy } }> {
  const settings = opts.remedy?.settings;
  const durable = opts.durableEverySteps;
  const { phase } = phaseStart;
  let watch: CollapseWatch = FRESH_WATCH;
  let healthy: TrainerCheckpoint | undefined;
  let decision: Exclude<RemedyDecision, { kind: 'give_up' }> | undefined;
  let remedyReason = '';
  let exhausted = false;
  let suspending = false;
  let lastCaptured: { checkpoint: TrainerCheckpoint; forwarded: boolean } | undefined;

  const forward = (checkpoint: TrainerCheckpoint): void => {
    opts.report({ kind: 'checkpoint', step: checkpoint.step, phase: phase.index, encoded: opts.encode(checkpoint) });
  };
  const check = (): void => {
    if (settings === undefined || decision !== undefined || exhausted) return;
    const signal = collapseSignal(watch, settings);
    if (signal === undefined) return;
    const decided = decideRemedy({ settings, signal, current: phase, usedSeeds, healthyStep: healthy?.step ?? 0 });
    if (decided.kind === 'give_up') {
      // The phase trains on to its end: the run ends with what it has.
      exhausted = true;
      opts.report({ kind: 'notice', message: decided.notice });
      return;
    }
    decision = decided;
    remedyReason = signal.reason;
  };
  const hooks: TrainHooks = {
    onStep: (telemetry) => {
      sampleMemory(opts.memoryBytes());
      opts.report({ kind: 'step', telemetry });
      if (settings !== undefined) watch = watchStep(watch, telemetry, settings);
      check();
    },
    onEpochEnd: (report) => {
      opts.report({ kind: 'epoch', report });
      watch = watchEvaluation(watch, report.validation.verdict);
      check();
    },
    onNotice: (message) => opts.report({ kind: 'notice', message }),
    now: opts.now,
    betweenSteps: async () => {
      if (decision !== undefined) return 'stop';
      const request = opts.stopRequest();
      // The trainer takes one checkpoint per step: one kept here only must still be stored.
      if (request === 'suspend' && lastCaptured !== undefined && !lastCaptured.forwarded && lastCaptured.checkpoint.step === watch.step) {
        forward(lastCaptured.checkpoint);
        lastCaptured.forwarded = true;
      }
      suspending = request === 'suspend';
      return request;
    },
    ...(durable === undefined && settings === undefined
      ? {}
      : {
          onCheckpoint: (checkpoint: TrainerCheckpoint) => {
            if (settings !== undefined && decision === undefined && isHealthy(watch)) healthy = checkpoint;
            const isDurable = durable !== undefined &&
              (suspending || checkpoint.stepInEpoch === 0 || (durable > 0 && checkpoint.step % durable === 0));
            if (isDurable) forward(checkpoint);
            lastCaptured = { checkpoint, forwarded: isDurable };
          },
        }),
  };
  const everySteps = engineCheckpointEvery(durable, settings?.windowSteps);
  const outcome = await opts.trainPhase(
    {
      run: { ...opts.run, seed: phase.seed, method: phase.method },
      ...(phaseStart.resumeFrom === undefined ? {} : { resumeFrom: phaseStart.resumeFrom }),
      checkpointEverySteps: everySteps,
    },
    hooks,
  );
  if (decision === undefined) return { outcome };
  const ended: RunPhase = {
    seed: phase.seed,
    method: phase.method,
    startStep: phaseStart.startStep,
    endStep: outcome.steps,
    verdict: watch.verdict ?? 'collapsed',
    reason: remedyReason,
  };
  return { outcome, next: { next: nextPhase(phase, decision, healthy), ended, notice: decision.notice, policy: policyOf(decision) } };
}

function nextPhase(current: CurrentPhase, decision: Exclude<RemedyDecision, { kind: 'give_up' }>, healthy: TrainerCheckpoint | undefined): PhaseStart {
  const index = current.index + 1;
  if (decision.kind === 'restart') {
    return { phase: { ...current, index, seed: decision.seed }, startStep: 0 };
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
  return { seed: start.phase.seed, method: start.phase.method, startStep: start.startStep, endStep: start.startStep, reason: '' };
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
