// The run rows of one job as its execution writes them. The execution is the only writer of
// its job's runs, so rows are kept here after each write (no store read per training step),
// and a run's duration is counted across every process that trained it.
import type { EventLog } from './event-log.js';
import type { JobStore } from './store.js';
import type { SeedRun } from './types.js';

export class SeedRuns {
  private readonly rows = new Map<number, SeedRun>();
  /** When this process started a run, and the duration earlier processes recorded for it. */
  private readonly clocks = new Map<number, { readonly started: number; readonly before: number }>();

  constructor(
    private readonly jobId: string,
    runs: readonly SeedRun[],
    private readonly store: JobStore,
    private readonly eventLog: EventLog,
    private readonly clock: () => number,
  ) {
    for (const run of runs) this.rows.set(run.seed, run);
  }

  get(seed: number): SeedRun {
    const run = this.rows.get(seed);
    if (run === undefined) throw new Error(`job ${this.jobId} has no run for seed ${seed}`);
    return run;
  }

  async put(run: SeedRun): Promise<void> {
    const job = await this.store.putRun(this.jobId, run);
    this.rows.set(run.seed, job.runs.find((r) => r.seed === run.seed) ?? run);
  }

  /** A run's final row and its run_finished event. */
  async finish(run: SeedRun): Promise<void> {
    await this.put(run);
    await this.eventLog.append(this.jobId, run.seed, { kind: 'run_finished', run });
  }

  /** The run trains in this process from now on. */
  started(seed: number): void {
    this.clocks.set(seed, { started: this.clock(), before: this.get(seed).durationMs });
  }

  /** Time trained, over every process; what was recorded if it has not started in this one. */
  durationMs(seed: number): number {
    const clock = this.clocks.get(seed);
    return clock === undefined ? this.get(seed).durationMs : clock.before + this.clock() - clock.started;
  }
}
