// What an execution loads before its runs train (loadStartPoint, resumeRequest), and what a
// restarted job must not say twice. A run resumes from its newest checkpoint, which is at or
// before the last step its log holds (the step's event is appended before its checkpoint is
// written), so the trainer replays the steps in between: identical steps, already logged.
// The log is the record, so the filter is drawn from it, per seed: progress the log already
// has (a step or epoch event at or below the last logged one, a second run_started) is dropped,
// everything after it is appended as usual. Sequence numbers stay dense, and every step appears
// once. The checkpoint is chosen at or below the last logged step for the same reason: a run
// restarted past its log would leave a hole in the steps.
import type { Evaluation, TrainerCheckpoint } from '../engine/tf-free.js';
import type { CheckpointFiles, Durability } from './persistence/checkpoint-files.js';
import type { EventLog } from './event-log.js';
import { RUN_ENDED_STATES, type Job, type SeedRun } from './types.js';
import type { TrainProgress, TrainRequest } from './worker/protocol.js';

/** What an execution finds when it starts; a new job has nothing logged and no run ended. */
export interface StartPoint {
  /** Per seed, what the job's log already holds: the dedupe filter of the progress to come. */
  readonly logged: Map<number, LoggedProgress>;
  /** Validations of the runs that already succeeded. */
  readonly succeeded: ReadonlyMap<number, Evaluation>;
  /** Runs that ended in the store, but the process died before logging it. */
  readonly unloggedEnds: readonly SeedRun[];
  /** Seeds whose runs still have to train (or, for a CANCELLING job, to be ended). */
  readonly open: readonly number[];
}

export async function loadStartPoint(job: Job, eventLog: EventLog): Promise<StartPoint> {
  const logged = await loggedProgress(eventLog, job.id);
  const ended = job.runs.filter((run) => RUN_ENDED_STATES.has(run.state));
  const succeeded = new Map<number, Evaluation>();
  for (const run of ended) if (run.state === 'SUCCEEDED' && run.metrics !== undefined) succeeded.set(run.seed, run.metrics);
  return {
    logged,
    succeeded,
    unloggedEnds: ended.filter((run) => !(logged.get(run.seed) ?? NOTHING_LOGGED).finished),
    open: job.runs.filter((run) => !RUN_ENDED_STATES.has(run.state)).map((run) => run.seed),
  };
}

/** What a job this process has just created starts from: nothing logged, every run to train. */
export function newJobStartPoint(job: Job): StartPoint {
  return { logged: new Map(), succeeded: new Map(), unloggedEnds: [], open: job.runs.map((run) => run.seed) };
}

/**
 * A run's request with its checkpoint settings and, for a run that trained before, where it
 * continues (its current phase's newest checkpoint the log covers) and the notice saying so.
 * Without durability the request goes as it is.
 */
export async function resumeRequest(
  request: TrainRequest,
  durability: Durability | undefined,
  jobId: string,
  logged: LoggedProgress,
  phaseIndex: number,
): Promise<{ readonly request: TrainRequest; readonly notice?: string }> {
  if (durability === undefined) return { request };
  const { checkpoint, notice } = await resumePoint(durability.checkpoints, jobId, request.run.seed, logged, phaseIndex);
  return {
    request: {
      ...request,
      checkpointEverySteps: durability.checkpointEverySteps,
      ...(checkpoint === undefined ? {} : { resumeFrom: checkpoint }),
    },
    ...(notice === undefined ? {} : { notice }),
  };
}

/** What a seed's run has already put in the job's event log. */
export interface LoggedProgress {
  /** A run_started event was appended (by this or an earlier process). */
  readonly started: boolean;
  /** A run_finished event was appended. */
  readonly finished: boolean;
  /** Highest step of its step events; 0 for none. */
  readonly lastStep: number;
  /** Highest step of its epoch events; 0 for none. */
  readonly lastEpochStep: number;
}

export const NOTHING_LOGGED: LoggedProgress = { started: false, finished: false, lastStep: 0, lastEpochStep: 0 };

/** Per seed, what the job's log holds: the dedupe filter of a resumed execution. */
export async function loggedProgress(eventLog: EventLog, jobId: string): Promise<Map<number, LoggedProgress>> {
  const bySeed = new Map<number, LoggedProgress>();
  for (const event of await eventLog.read(jobId, 0)) {
    const { body } = event;
    const seen = bySeed.get(event.seed) ?? NOTHING_LOGGED;
    if (body.kind === 'run_started') bySeed.set(event.seed, { ...seen, started: true });
    if (body.kind === 'run_finished') bySeed.set(event.seed, { ...seen, finished: true });
    if (body.kind === 'step') bySeed.set(event.seed, { ...seen, lastStep: Math.max(seen.lastStep, body.step.step) });
    if (body.kind === 'epoch') bySeed.set(event.seed, { ...seen, lastEpochStep: Math.max(seen.lastEpochStep, body.step) });
    if (body.kind === 'phase_started') bySeed.set(event.seed, afterPhaseStart(seen, body.next.startStep));
  }
  return bySeed;
}

/**
 * An auto-remedy phase trains its steps from startStep again (another method or seed): what
 * the log holds of the phase before it counts from there, so its steps are logged too.
 */
export function afterPhaseStart(logged: LoggedProgress, startStep: number): LoggedProgress {
  return { ...logged, started: true, lastStep: startStep, lastEpochStep: startStep };
}

/**
 * Where a run's phase keeps its checkpoints: phase 0 under the run's seed (the layout of runs
 * without remedies), phase k under seed + k * 2^32, so phases never mix their step numbers.
 */
export function checkpointSlot(seed: number, phaseIndex: number): number {
  return seed + phaseIndex * 2 ** 32;
}

/** True for progress the log does not have yet. */
export function isNewProgress(logged: LoggedProgress, progress: TrainProgress): boolean {
  switch (progress.kind) {
    case 'started':
      return !logged.started;
    case 'step':
      return progress.telemetry.step > logged.lastStep;
    case 'epoch':
      return progress.report.step > logged.lastEpochStep;
    case 'loading':
    case 'notice':
    case 'checkpoint':
    case 'phase':
    case 'remedy_gave_up':
      return true;
  }
}

/**
 * Where a run continues: its newest checkpoint (of its current phase) the log covers, and a
 * notice saying so (if it ran before).
 */
export async function resumePoint(
  checkpoints: CheckpointFiles,
  jobId: string,
  seed: number,
  logged: LoggedProgress,
  phaseIndex = 0,
): Promise<{ readonly checkpoint?: TrainerCheckpoint; readonly notice?: string }> {
  if (!logged.started) return {};
  const checkpoint = await checkpoints.latest(jobId, checkpointSlot(seed, phaseIndex), logged.lastStep);
  if (checkpoint === undefined) {
    return { notice: `seed ${seed}: no checkpoint; restarting from step 0 (steps up to ${logged.lastStep} are already logged)` };
  }
  return { checkpoint, notice: `seed ${seed}: resuming from the checkpoint at step ${checkpoint.step}` };
}
