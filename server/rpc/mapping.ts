// Domain values (server/jobs, server/engine) → generated wire types. Pure functions; the only
// place that knows both shapes.
import type { Duration } from '../../client/gen/google/protobuf/duration.js';
import { AlphaSchedule, AutoRemedy_Policy, FineTuneSpec, type MethodSpec as WireMethodSpec } from '../../client/gen/steadytune/v1/spec.js';
import {
  JobState as WireJobState,
  RunState as WireRunState,
  Verdict as WireVerdict,
  type Job as WireJob,
  type Prediction,
  type RunPhase as WireRunPhase,
  type RunPhaseStarted,
  type SeedRun as WireSeedRun,
  type StepMetrics,
  type StreamMetricsResponse,
} from '../../client/gen/steadytune/v1/trainer.js';
import type { AlphaScheduleKind, MethodSpec, StepTelemetry } from '../engine/tf-free.js';
import type { RemedyPolicy } from '../jobs/remedy-policy.js';
import type { Job, JobEvent, JobState, PhaseChange, PredictionRow, RunPhase, RunState, SeedRun } from '../jobs/types.js';
import { escalationDecisionToWire, optionalDecisionToWire } from './remedy-mapping.js';
import { evaluationToWire, summaryToWire, VERDICTS_TO_WIRE } from './summary-mapping.js';

export { evaluationReportToWire, evaluationToWire, summaryToWire } from './summary-mapping.js';

const JOB_STATES_TO_WIRE: Readonly<Record<JobState, WireJobState>> = {
  QUEUED: WireJobState.JOB_STATE_QUEUED,
  RUNNING: WireJobState.JOB_STATE_RUNNING,
  CANCELLING: WireJobState.JOB_STATE_CANCELLING,
  SUCCEEDED: WireJobState.JOB_STATE_SUCCEEDED,
  FAILED: WireJobState.JOB_STATE_FAILED,
  CANCELLED: WireJobState.JOB_STATE_CANCELLED,
};

/** ListJobs' state filter: UNSPECIFIED means any state. */
export const JOB_STATES_FROM_WIRE: ReadonlyMap<number, JobState | 'any'> = new Map<number, JobState | 'any'>([
  [WireJobState.JOB_STATE_UNSPECIFIED, 'any'],
  ...Object.entries(JOB_STATES_TO_WIRE).map(([state, wire]): [number, JobState] => [wire, state as JobState]),
]);

const RUN_STATES_TO_WIRE: Readonly<Record<RunState, WireRunState>> = {
  PENDING: WireRunState.RUN_STATE_PENDING,
  RUNNING: WireRunState.RUN_STATE_RUNNING,
  SUCCEEDED: WireRunState.RUN_STATE_SUCCEEDED,
  FAILED: WireRunState.RUN_STATE_FAILED,
  CANCELLED: WireRunState.RUN_STATE_CANCELLED,
};

export function jobStateToWire(state: JobState): WireJobState {
  return JOB_STATES_TO_WIRE[state];
}

export function jobToWire(job: Job): WireJob {
  return {
    id: job.id,
    displayName: job.displayName,
    labels: { ...job.labels },
    // requestSpec is the canonical proto JSON stored at StartFineTune (see requests.ts).
    spec: job.requestSpec === undefined || job.requestSpec === null ? undefined : FineTuneSpec.fromJSON(job.requestSpec),
    state: jobStateToWire(job.state),
    transitions: job.transitions.map((t) => ({ state: jobStateToWire(t.state), time: new Date(t.time), reason: t.reason })),
    reason: job.reason,
    createTime: new Date(job.createTime),
    backend: job.backend,
    notices: [...job.notices],
    runs: job.runs.map(seedRunToWire),
    summary: job.summary === undefined ? undefined : summaryToWire(job.summary),
    lastSequence: job.lastSequence,
    idempotencyKey: job.idempotencyKey,
    trainingSet: trainingSetOf(job),
  };
}

/** The seeds train on the same examples (the imbalance is the spec's): the first run that loaded them says what. */
function trainingSetOf(job: Job): WireJob['trainingSet'] {
  const counts = job.runs.find((run) => run.trainClassCounts !== undefined)?.trainClassCounts;
  return counts === undefined ? undefined : { classCounts: [...counts] };
}

export function seedRunToWire(run: SeedRun): WireSeedRun {
  return {
    seed: run.seed,
    state: RUN_STATES_TO_WIRE[run.state],
    steps: run.steps,
    totalSteps: run.totalSteps,
    meanStepSeconds: run.meanStepSeconds,
    metrics: run.metrics === undefined ? undefined : evaluationToWire(run.metrics),
    error: run.error ?? '',
    duration: millisecondsToDuration(run.durationMs),
    peakMemoryBytes: run.peakMemoryBytes ?? 0,
    phases: (run.phases ?? []).map(runPhaseToWire),
    testMetrics: run.testMetrics === undefined ? undefined : evaluationToWire(run.testMetrics),
  };
}

function runPhaseToWire(phase: RunPhase): WireRunPhase {
  return {
    seed: phase.seed,
    method: methodToWire(phase.method),
    startStep: phase.startStep,
    endStep: phase.endStep,
    verdict: phase.verdict === undefined ? WireVerdict.VERDICT_UNSPECIFIED : VERDICTS_TO_WIRE[phase.verdict],
    reason: phase.reason,
    startedBy: optionalDecisionToWire(phase.startedBy),
    gaveUp: optionalDecisionToWire(phase.gaveUp),
  };
}

const REMEDY_POLICIES_TO_WIRE: Readonly<Record<RemedyPolicy, AutoRemedy_Policy>> = {
  continue_under_dsgd: AutoRemedy_Policy.POLICY_CONTINUE_UNDER_DSGD,
  restart_next_seed: AutoRemedy_Policy.POLICY_RESTART_NEXT_SEED,
  escalate: AutoRemedy_Policy.POLICY_ESCALATE,
};

export function phaseStartedToWire(change: PhaseChange): RunPhaseStarted {
  return {
    phaseIndex: change.index,
    phase: runPhaseToWire(change.next),
    ended: runPhaseToWire(change.ended),
    policy: REMEDY_POLICIES_TO_WIRE[change.policy],
    notice: change.notice,
    decision: optionalDecisionToWire(change.decision),
  };
}

const ALPHA_SCHEDULES_TO_WIRE: Readonly<Record<AlphaScheduleKind, AlphaSchedule>> = {
  linear: AlphaSchedule.ALPHA_SCHEDULE_LINEAR,
  cosine: AlphaSchedule.ALPHA_SCHEDULE_COSINE,
  linear_descending: AlphaSchedule.ALPHA_SCHEDULE_LINEAR_DESCENDING,
  static: AlphaSchedule.ALPHA_SCHEDULE_STATIC,
};

/** A resolved method with every parameter explicit (a phase may run another method than the spec names). */
export function methodToWire(method: MethodSpec): WireMethodSpec {
  switch (method.kind) {
    case 'fft':
    case 'pcgrad':
      return { method: { $case: method.kind, value: {} } };
    case 'dsgd':
      return { method: { $case: 'dsgd', value: { lambda: method.lambda, schedule: ALPHA_SCHEDULES_TO_WIRE[method.schedule] } } };
    case 'focal':
      return { method: { $case: 'focal', value: { gamma: method.gamma, classWeights: [...(method.classWeights ?? [])] } } };
    case 'noisytune':
      return { method: { $case: 'noisytune', value: { noise: method.noise } } };
    case 'lnsr':
      return { method: { $case: 'lnsr', value: { noiseStd: method.noiseStd, weight: method.weight } } };
    case 'swa':
      return { method: { $case: 'swa', value: { window: method.window } } };
  }
}

export function predictionToWire(row: PredictionRow): Prediction {
  return { label: row.label, labelName: row.labelName, probabilities: [...row.probabilities] };
}

export function stepToWire(step: StepTelemetry): StepMetrics {
  return {
    step: step.step,
    totalSteps: step.totalSteps,
    epoch: step.epoch,
    loss: step.loss,
    accuracy: step.accuracy,
    alpha: step.alpha,
    correctFraction: step.correctFraction,
    gradientNorm: step.gradientNorm,
    learningRate: step.learningRate,
    headConflictCosine: step.headConflictCosine ?? undefined,
    fullConflict:
      step.fullConflict === undefined
        ? undefined
        : {
            cosine: step.fullConflict.cosine ?? undefined,
            normWrong: step.fullConflict.normWrong,
            normCorrect: step.fullConflict.normCorrect,
          },
    stepSeconds: step.stepSeconds,
  };
}

export function eventToWire(event: JobEvent): StreamMetricsResponse {
  return { sequence: event.sequence, time: new Date(event.time), seed: event.seed, event: eventBodyToWire(event.body) };
}

function eventBodyToWire(body: JobEvent['body']): StreamMetricsResponse['event'] {
  switch (body.kind) {
    case 'step':
      return { $case: 'step', value: stepToWire(body.step) };
    case 'epoch':
      return {
        $case: 'epoch',
        value: { epoch: body.epoch, step: body.step, validation: evaluationToWire(body.validation) },
      };
    case 'run_started':
      return { $case: 'runStarted', value: { totalSteps: body.totalSteps, backend: body.backend } };
    case 'run_finished':
      return { $case: 'runFinished', value: { run: seedRunToWire(body.run) } };
    case 'state_changed':
      return { $case: 'stateChanged', value: { state: jobStateToWire(body.state), reason: body.reason } };
    case 'notice':
      return { $case: 'notice', value: { message: body.message } };
    case 'phase_started':
      return { $case: 'phaseStarted', value: phaseStartedToWire(body) };
    case 'remedy_gave_up':
      return {
        $case: 'remedyGaveUp',
        value: { phaseIndex: body.index, decision: escalationDecisionToWire(body.decision), notice: body.notice },
      };
  }
}

export function millisecondsToDuration(ms: number): Duration {
  const whole = Math.max(0, Math.round(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1e6 };
}
