// Live progress of a job's runs: step rate, ETA and the one-line renderings `watch` prints.
import type { EpochSummary, Job, RunFinished, StepMetrics, StreamMetricsResponse } from '../index.js';
import { paperSeeds, runStateToJSON, verdictToJSON } from '../index.js';
import { enumLabel, fitToWidth, formatDuration, formatNumber, progressBar } from './format.js';

interface RunProgress {
  done: number;
  total: number | undefined;
  finished: boolean;
}

/** Weight of the newest step in the moving average: smooth, yet follows a backend switch. */
const STEP_TIME_SMOOTHING = 0.1;

/**
 * Follows StepMetrics/RunStarted/RunFinished events and estimates the time left for the whole
 * job from the trainer's own step_seconds (not arrival times, which are meaningless on replay).
 */
export class ProgressTracker {
  readonly seeds: number[];
  readonly epochs: number;
  private readonly runs = new Map<number, RunProgress>();
  private meanStepSeconds: number | undefined;
  private lastStep: { seed: number; metrics: StepMetrics } | undefined;
  /** Words of the phase changes (and give-ups) seen: the server restates each as a notice right after. */
  private readonly phaseNotices = new Set<string>();

  constructor(seeds: number[], epochs: number) {
    this.seeds = seeds;
    this.epochs = epochs;
    for (const seed of seeds) this.runs.set(seed, { done: 0, total: undefined, finished: false });
  }

  /** Seeds, epochs and known step totals from a job (empty spec fields mean the documented defaults). */
  static forJob(job: Job): ProgressTracker {
    const seeds = job.runs.length > 0 ? job.runs.map((run) => run.seed) : job.spec?.seeds.length ? job.spec.seeds : paperSeeds();
    const tracker = new ProgressTracker(seeds, job.spec?.epochs || 3);
    for (const run of job.runs) {
      if (run.totalSteps > 0) tracker.run(run.seed).total = run.totalSteps;
    }
    return tracker;
  }

  observe(event: StreamMetricsResponse): void {
    const body = event.event;
    if (body === undefined) return;
    const run = this.run(event.seed);
    switch (body.$case) {
      case 'runStarted':
        run.total = body.value.totalSteps;
        break;
      case 'step':
        run.done = body.value.step;
        run.total = body.value.totalSteps;
        this.lastStep = { seed: event.seed, metrics: body.value };
        if (body.value.stepSeconds > 0) {
          this.meanStepSeconds =
            this.meanStepSeconds === undefined
              ? body.value.stepSeconds
              : STEP_TIME_SMOOTHING * body.value.stepSeconds + (1 - STEP_TIME_SMOOTHING) * this.meanStepSeconds;
        }
        break;
      case 'runFinished':
        run.finished = true;
        break;
      case 'phaseStarted':
      case 'remedyGaveUp':
        this.phaseNotices.add(body.value.notice);
        break;
      default:
        break;
    }
  }

  /** True for a notice that only restates a phase change already seen as its event. */
  restatesPhaseChange(message: string): boolean {
    return this.phaseNotices.has(message);
  }

  get latestStep(): { seed: number; metrics: StepMetrics } | undefined {
    return this.lastStep;
  }

  /** 1-based position of the seed among the job's runs. */
  runNumber(seed: number): number {
    return this.seeds.indexOf(seed) + 1;
  }

  /** Seconds until every run is done; undefined until a step time and a step total are known. */
  etaSeconds(): number | undefined {
    if (this.meanStepSeconds === undefined) return undefined;
    const knownTotal = [...this.runs.values()].find((run) => run.total !== undefined)?.total;
    let stepsLeft = 0;
    for (const run of this.runs.values()) {
      if (run.finished) continue;
      const total = run.total ?? knownTotal;
      if (total === undefined) return undefined;
      stepsLeft += Math.max(0, total - run.done);
    }
    return stepsLeft * this.meanStepSeconds;
  }

  private run(seed: number): RunProgress {
    let run = this.runs.get(seed);
    if (run === undefined && seed !== 0) {
      // A seed the job did not announce (e.g. spec read before runs were listed): track it too.
      run = { done: 0, total: undefined, finished: false };
      this.runs.set(seed, run);
      this.seeds.push(seed);
    }
    return run ?? { done: 0, total: undefined, finished: false };
  }
}

/**
 * The redrawn TTY line, e.g.
 * `seed 42 (1/3) [######..............] 120/400 ep 1/3 loss 0.4321 acc 0.9120 α 0.630 cos -0.120 ETA 3m12s`.
 */
export function progressLine(tracker: ProgressTracker, columns?: number): string {
  const latest = tracker.latestStep;
  if (latest === undefined) return 'waiting for the first step…';
  const { seed, metrics } = latest;
  const fraction = metrics.totalSteps > 0 ? metrics.step / metrics.totalSteps : 0;
  const parts = [
    `seed ${seed} (${tracker.runNumber(seed)}/${tracker.seeds.length})`,
    `[${progressBar(fraction)}]`,
    `${metrics.step}/${metrics.totalSteps}`,
    // Events carry 0-based epochs (engine contract); people count from 1.
    `ep ${metrics.epoch + 1}/${tracker.epochs}`,
    `loss ${formatNumber(metrics.loss)}`,
    `acc ${formatNumber(metrics.accuracy)}`,
    `α ${formatNumber(metrics.alpha, 3)}`,
    `cos ${formatNumber(metrics.headConflictCosine, 3)}`,
    `ETA ${formatDuration(tracker.etaSeconds())}`,
  ];
  return fitToWidth(parts.join(' '), columns);
}

/** One line per finished epoch: what `watch` prints when stdout is not a terminal. */
export function epochLine(seed: number, summary: EpochSummary, epochs: number): string {
  const validation = summary.validation;
  const metrics =
    validation === undefined
      ? 'no validation metrics'
      : `val acc ${formatNumber(validation.accuracy)} bal ${formatNumber(validation.balancedAccuracy)} ` +
        `f1 ${formatNumber(validation.macroF1)} loss ${formatNumber(validation.loss)} ` +
        `verdict ${enumLabel(verdictToJSON(validation.verdict), 'VERDICT_')}`;
  return `seed ${seed} epoch ${summary.epoch + 1}/${epochs} step ${summary.step}: ${metrics}`;
}

export function runFinishedLine(seed: number, finished: RunFinished): string {
  const run = finished.run;
  if (run === undefined) return `seed ${seed}: finished`;
  const state = enumLabel(runStateToJSON(run.state), 'RUN_STATE_');
  const metrics = run.metrics;
  const detail =
    metrics === undefined
      ? ''
      : ` acc ${formatNumber(metrics.accuracy)} bal ${formatNumber(metrics.balancedAccuracy)} ` +
        `f1 ${formatNumber(metrics.macroF1)} verdict ${enumLabel(verdictToJSON(metrics.verdict), 'VERDICT_')}`;
  const error = run.error === '' ? '' : ` (${run.error})`;
  return `seed ${seed}: ${state}${detail}${error}`;
}
