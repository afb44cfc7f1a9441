// What turns a job's worker reports into its record: run rows and job fields in the store,
// events in the log (the metrics are drawn from those appends), checkpoint files, and saved
// models. The execution calls it inside its serial chain, one report at a time, in the order
// the workers produced them; progress the log already holds (replayed after a restart) is not
// logged twice. A checkpoint the storage refuses does not stop the run: it trains on without
// crash protection, and a notice says so (once per streak of failures, and again when a
// checkpoint is written after them).
import { hasCode, messageOf } from '../common/errors.js';
import type { Evaluation } from '../engine/tf-free.js';
import type { EventLog } from './event-log.js';
import type { JobPhaseTracker } from './job-tracer.js';
import { afterPhaseStart, checkpointSlot, isNewProgress, NOTHING_LOGGED, type LoggedProgress } from './job-resume.js';
import type { JobStateMachine } from './job-state-machine.js';
import type { Durability } from './persistence/checkpoint-files.js';
import type { ModelFiles } from './persistence/model-files.js';
import { phaseStartedEvent, remedyGaveUpEvent, withGaveUp, withLastPhaseClosed, withPeakMemory, withPhaseChange } from './run-phases.js';
import type { SeedRuns } from './seed-runs.js';
import { describeFault, storageFaultOf, type StorageFaultListener } from './storage-faults.js';
import type { JobStore } from './store.js';
import type { Job, JobLogger } from './types.js';
import type { TrainProgress, TrainResult } from './worker/protocol.js';

export interface ProgressRecordContext {
  readonly store: JobStore;
  readonly eventLog: EventLog;
  readonly models: ModelFiles;
  readonly logger: JobLogger;
  /** Absent: checkpoints the workers report are dropped. */
  readonly durability?: Durability;
  readonly storageFaults: StorageFaultListener;
}

export class ProgressRecorder {
  /** Validations of the runs that succeeded (in this process or an earlier one): the summary's input. */
  readonly succeeded: Map<number, Evaluation>;
  /** The validation labels, once a run of this process reported them. */
  validationLabels?: Int32Array;
  /** Seeds whose last checkpoint write failed: they train without crash protection. */
  private readonly unprotected = new Set<number>();

  /** @param logged per seed, what the job's log already holds */
  constructor(
    private readonly job: Job,
    private readonly context: ProgressRecordContext,
    private readonly runs: SeedRuns,
    private readonly state: JobStateMachine,
    private readonly trace: JobPhaseTracker,
    private readonly logged: Map<number, LoggedProgress>,
    succeeded: ReadonlyMap<number, Evaluation>,
  ) {
    this.succeeded = new Map(succeeded);
  }

  async onProgress(seed: number, progress: TrainProgress): Promise<void> {
    const { store, eventLog } = this.context;
    const jobId = this.job.id;
    const isNew = isNewProgress(this.logged.get(seed) ?? NOTHING_LOGGED, progress);
    switch (progress.kind) {
      case 'started': {
        await this.state.begin();
        await store.setBackend(jobId, progress.backend);
        this.runs.started(seed);
        const counts = progress.classCounts === undefined ? {} : { trainClassCounts: progress.classCounts };
        await this.runs.put({ ...this.runs.get(seed), state: 'RUNNING', totalSteps: progress.totalSteps, ...counts });
        if (isNew) await eventLog.append(jobId, seed, { kind: 'run_started', totalSteps: progress.totalSteps, backend: progress.backend });
        return;
      }
      case 'step': {
        if (!isNew) return;
        await eventLog.append(jobId, seed, { kind: 'step', step: progress.telemetry });
        const { step, totalSteps } = progress.telemetry;
        await this.runs.put({ ...this.runs.get(seed), steps: step, totalSteps, durationMs: this.runs.durationMs(seed) });
        await this.state.recordRuntimeIfDue();
        return;
      }
      case 'epoch':
        if (isNew) await eventLog.append(jobId, seed, { kind: 'epoch', ...progress.report });
        return;
      case 'notice':
        await this.notice(seed, progress.message);
        return;
      case 'checkpoint': {
        const { durability } = this.context;
        if (durability === undefined) return;
        const slot = checkpointSlot(seed, progress.phase);
        try {
          await this.trace.checkpoint(seed, progress.step, () => durability.checkpoints.save(jobId, slot, progress.step, progress.encoded));
        } catch (error) {
          await this.checkpointFailed(seed, progress.step, error);
          return;
        }
        if (this.unprotected.delete(seed))
          await this.notice(seed, `checkpoint at step ${progress.step} (seed ${seed}) written: crash protection restored`);
        await this.runs.put({ ...this.runs.get(seed), checkpointStep: progress.step });
        await this.state.recordRuntime();
        return;
      }
      case 'phase':
        // The structured event, then its words as a notice for clients that predate the event.
        await eventLog.append(jobId, seed, phaseStartedEvent(progress));
        await eventLog.append(jobId, seed, { kind: 'notice', message: progress.notice });
        await store.addNotice(jobId, progress.notice);
        await this.runs.put(withPhaseChange(this.runs.get(seed), progress));
        // The new phase logs its steps from its start again.
        this.logged.set(seed, afterPhaseStart(this.logged.get(seed) ?? NOTHING_LOGGED, progress.next.startStep));
        return;
      case 'remedy_gave_up':
        // Structured, then in words, like a phase change; the row's phase records it too.
        await eventLog.append(jobId, seed, remedyGaveUpEvent(progress));
        await eventLog.append(jobId, seed, { kind: 'notice', message: progress.notice });
        await store.addNotice(jobId, progress.notice);
        await this.runs.put(withGaveUp(this.runs.get(seed), this.job.spec, progress));
        return;
      case 'loading':
        return;
    }
  }

  /** Counted and logged every time; told in the job's log at the first failure of a streak. */
  private async checkpointFailed(seed: number, step: number, error: unknown): Promise<void> {
    const fault = storageFaultOf(error);
    this.context.storageFaults.writeFailed('checkpoint', fault?.cause ?? 'other');
    this.context.logger.warn('checkpoint not written', { jobId: this.job.id, seed, step, error: messageOf(error) });
    if (this.unprotected.has(seed)) return;
    this.unprotected.add(seed);
    const detail = fault === undefined ? messageOf(error) : describeFault(fault);
    await this.notice(seed, `checkpoint at step ${step} (seed ${seed}) not written: ${detail}; running without crash protection since`);
  }

  private async notice(seed: number, message: string): Promise<void> {
    await this.context.eventLog.append(this.job.id, seed, { kind: 'notice', message });
    await this.context.store.addNotice(this.job.id, message);
  }

  /** The run's task returned: its model saved and its row final, or left to resume (suspended). */
  async onResult(seed: number, result: TrainResult): Promise<void> {
    const stop = this.state.stop;
    if (result.validationLabels.length > 0) this.validationLabels = result.validationLabels;
    const row = withPeakMemory(this.runs.get(seed), result.peakMemoryBytes);
    const base = { ...row, meanStepSeconds: result.meanStepSeconds, durationMs: this.runs.durationMs(seed) };
    if (result.stopped && stop?.end === 'SUSPENDED') {
      // Stays RUNNING with its checkpoint: the next start continues it.
      await this.runs.put({ ...base, steps: Math.max(base.steps, result.steps) });
      return;
    }
    if (result.stopped || result.validation === undefined) {
      await this.runs.finish({ ...base, steps: result.steps, state: 'CANCELLED', error: stop?.reason ?? 'stopped' });
      return;
    }
    try {
      await this.context.models.save(this.job.id, seed, result.weights, result.card);
    } catch (error) {
      this.context.storageFaults.writeFailed('model', storageFaultOf(error)?.cause ?? 'other');
      await this.runs.finish({ ...base, steps: result.steps, state: 'FAILED', error: `could not save the model: ${messageOf(error)}` });
      return;
    }
    this.succeeded.set(seed, result.validation);
    const closed = withLastPhaseClosed(base, this.job.spec, result.steps, result.validation.verdict);
    await this.runs.finish({ ...closed, steps: result.steps, state: 'SUCCEEDED', metrics: result.validation });
  }

  /** The run's task failed or was cancelled (or dropped at shutdown, to resume). */
  async onRunError(seed: number, error: unknown): Promise<void> {
    const stop = this.state.stop;
    if (stop?.end === 'SUSPENDED') {
      // Dropped from the queue or its worker ended at shutdown: resumable like a suspended run.
      this.context.logger.info('seed run left to resume', { jobId: this.job.id, seed, error: messageOf(error) });
      return;
    }
    const base = { ...this.runs.get(seed), durationMs: this.runs.durationMs(seed) };
    if (hasCode(error, 'CANCELLED')) {
      await this.runs.finish({ ...base, state: 'CANCELLED', error: stop?.reason ?? 'cancelled' });
      return;
    }
    this.context.logger.warn('seed run failed', { jobId: this.job.id, seed, error: messageOf(error) });
    await this.runs.finish({ ...base, state: 'FAILED', error: messageOf(error) });
  }
}
