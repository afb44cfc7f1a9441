// The jobs layer's tracing port (jobs/job-tracer.ts) on OpenTelemetry: one job's phase spans,
// fed by its execution as worker progress arrives. Each span opens and closes at the moment the
// main thread learns of the phase boundary, so spans are kept here in memory only. Tracing is
// an observer: every call is guarded, and an error here is logged and dropped, never passed on
// to the job.
import type { Attributes } from '@opentelemetry/api';
import type { JobPhaseTracker, JobTracer, JobTraceParent } from '../jobs/job-tracer.js';
import type { JobLogger, SeedRun } from '../jobs/types.js';
import type { TrainProgress } from '../jobs/worker/protocol.js';
import { currentTraceParent, startJobPhaseSpan, type JobPhase, type JobPhaseSpan } from './tracing.js';

/** Jobs traced on the global OpenTelemetry tracer (a no-op until startTracing() turns it on). */
export const openTelemetryJobTracer: JobTracer = {
  currentParent: currentTraceParent,
  traceJob: (job, parent, logger) => new JobPhaseTrace(job.id, parent, job.epochs, logger),
};

/** A seed's open spans; the run span is the parent of its epochs and checkpoints. */
interface SeedSpans {
  dataLoad?: JobPhaseSpan;
  run?: JobPhaseSpan;
  epoch?: JobPhaseSpan;
  /** The epoch attribute is set at the epoch's first step: a resumed run starts mid-training. */
  epochNumbered: boolean;
  evaluation?: JobPhaseSpan;
  stepsPerEpoch: number;
  totalSteps: number;
}

export class JobPhaseTrace implements JobPhaseTracker {
  private queueWait?: JobPhaseSpan;
  private readonly seeds = new Map<number, SeedSpans>();
  private warned = false;

  /**
   * @param parent the StartFineTune server span; undefined (untraced call, resumed job) makes
   *   each phase its own root span, still tagged with the job id
   */
  constructor(
    private readonly jobId: string,
    private readonly parent: JobTraceParent | undefined,
    private readonly epochs: number,
    private readonly logger: JobLogger,
  ) {
    this.queueWait = this.start(parent, 'queue_wait', {});
  }

  /** Call as progress arrives from the worker (not from the serial chain), so spans time the worker. */
  onProgress(seed: number, progress: TrainProgress): void {
    this.guarded(() => {
      switch (progress.kind) {
        case 'loading':
          this.endQueueWait();
          this.seedSpans(seed).dataLoad = this.start(this.parent, 'data_load', { 'steadytune.seed': seed });
          return;
        case 'started': {
          // Workers that never say 'loading' (test fixtures) still end the queue wait here.
          this.endQueueWait();
          const spans = this.seedSpans(seed);
          // A second start of the same task (a restart within it) closes what the first opened.
          this.endSpans(spans, {});
          spans.totalSteps = progress.totalSteps;
          spans.stepsPerEpoch = progress.totalSteps / this.epochs;
          spans.run = this.start(this.parent, 'run', {
            'steadytune.seed': seed,
            'steadytune.total_steps': progress.totalSteps,
            'steadytune.backend': progress.backend,
          });
          spans.epoch = this.start(spans.run?.traceParent, 'epoch', { 'steadytune.seed': seed });
          spans.epochNumbered = false;
          return;
        }
        case 'step':
          this.onStep(seed, progress.telemetry.step, progress.telemetry.epoch);
          return;
        case 'epoch':
          this.onEpochEnd(seed, progress.report.step, progress.report.validation.accuracy);
          return;
        default:
          // Notices, checkpoints (timed where they are written: checkpoint()), remedy phases.
          return;
      }
    });
  }

  /** Runs the main thread's write of a checkpoint inside a checkpoint span under the seed's run. */
  async checkpoint<T>(seed: number, step: number, write: () => Promise<T>): Promise<T> {
    const span = this.start(this.seeds.get(seed)?.run?.traceParent ?? this.parent, 'checkpoint', {
      'steadytune.seed': seed,
      'steadytune.step': step,
    });
    try {
      const result = await write();
      this.guarded(() => span?.end());
      return result;
    } catch (error) {
      this.guarded(() => span?.end({ error }));
      throw error;
    }
  }

  /**
   * The seed's task is over and its outcome recorded (`run` as stored now: RUNNING means
   * suspended at shutdown, to resume): closes its spans.
   */
  runEnded(seed: number, run: Pick<SeedRun, 'state' | 'error'>): void {
    this.guarded(() => {
      const spans = this.seeds.get(seed);
      if (spans === undefined) return;
      spans.run?.setAttributes({ 'steadytune.run_state': run.state });
      this.endSpans(spans, run.state === 'FAILED' ? { error: new Error(run.error ?? 'run failed') } : {});
      this.seeds.delete(seed);
    });
  }

  /** The execution is over: whatever is still open (a job cancelled while queued) ends now. */
  close(): void {
    this.endQueueWait();
    for (const seed of [...this.seeds.keys()]) this.runEnded(seed, { state: 'CANCELLED' });
  }

  private onStep(seed: number, step: number, epoch: number): void {
    const spans = this.seeds.get(seed);
    if (spans === undefined) return;
    if (!spans.epochNumbered) {
      spans.epoch?.setAttributes({ 'steadytune.epoch': epoch });
      spans.epochNumbered = true;
    }
    // The epoch's last step: the trainer evaluates on validation before it reports the epoch.
    if (Number.isInteger(spans.stepsPerEpoch) && step % spans.stepsPerEpoch === 0) {
      spans.evaluation = this.start(spans.epoch?.traceParent, 'evaluation', { 'steadytune.seed': seed, 'steadytune.epoch': epoch });
    }
  }

  private onEpochEnd(seed: number, step: number, accuracy: number): void {
    const spans = this.seeds.get(seed);
    if (spans === undefined) return;
    spans.evaluation?.setAttributes({ 'steadytune.validation_accuracy': accuracy });
    spans.evaluation?.end();
    spans.evaluation = undefined;
    spans.epoch?.end();
    // The next epoch starts now, unless that was the last one.
    spans.epoch = step < spans.totalSteps ? this.start(spans.run?.traceParent, 'epoch', { 'steadytune.seed': seed }) : undefined;
    spans.epochNumbered = false;
  }

  /** Innermost first, so no child outlives its parent. */
  private endSpans(spans: SeedSpans, runEnd: { error?: unknown }): void {
    for (const span of [spans.evaluation, spans.epoch, spans.dataLoad]) span?.end();
    spans.run?.end(runEnd);
    spans.evaluation = spans.epoch = spans.dataLoad = spans.run = undefined;
  }

  private endQueueWait(): void {
    this.guarded(() => this.queueWait?.end());
    this.queueWait = undefined;
  }

  private seedSpans(seed: number): SeedSpans {
    let spans = this.seeds.get(seed);
    if (spans === undefined) {
      spans = { epochNumbered: false, stepsPerEpoch: 0, totalSteps: 0 };
      this.seeds.set(seed, spans);
    }
    return spans;
  }

  private start(parent: JobTraceParent | undefined, phase: JobPhase, attributes: Attributes): JobPhaseSpan | undefined {
    return this.guarded(() => startJobPhaseSpan(parent, phase, { attributes: { 'steadytune.job_id': this.jobId, ...attributes } }));
  }

  private guarded<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      // Once per job: a broken exporter would otherwise log on every step.
      if (!this.warned) this.logger.warn('job tracing failed; the job goes on untraced', { jobId: this.jobId, error });
      this.warned = true;
      return undefined;
    }
  }
}
