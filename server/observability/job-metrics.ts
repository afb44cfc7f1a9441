// Turns the jobs layer's event log into metrics. The log is where every worker's telemetry
// lands on the main thread, so observing appends is enough: no worker touches the registry.
// The events carry no labels, so this keeps, per job, what its series are labelled with
// (method and model family from the spec, the backend each seed reported), learned from any Job
// the observed store hands back: the one a create returns, and the one a write returns, which is
// how a scale-out worker learns the jobs an API pod created before it appends their events.
// Each event is counted by the process that appends it, and every event is appended once, so
// summing a counter over processes counts each step, run and job end once.
import type { BackendName } from '../engine/tf-free.js';
import type { EventLog } from '../jobs/event-log.js';
import type { JobStore } from '../jobs/store.js';
import { TERMINAL_STATES, type Job, type JobEvent, type JobState } from '../jobs/types.js';
import { LIVE_JOB_STATES, type JobMetricLabels, type SteadytuneMetrics } from './metrics.js';

interface TrackedJob {
  readonly method: JobMetricLabels['method'];
  readonly modelFamily: JobMetricLabels['modelFamily'];
  /** The state steadytune_jobs counts it in (only when this recorder counts job states). */
  state?: JobState;
  /** Per seed: a seed may fall back to another backend than its siblings. */
  readonly backends: Map<number, BackendName>;
}

export interface JobMetricsRecorderOptions {
  /** A metrics failure must never fail a job: it is reported here and dropped. */
  readonly onError?: (error: unknown) => void;
  /**
   * Whether state_changed events move steadytune_jobs. True (the default) where this process
   * sees every job's every state: the embedded server. False in scale-out, where the states
   * come from the shared store (SteadytuneMetrics.countJobStatesFrom) instead.
   */
  readonly countsJobStates?: boolean;
  /**
   * Without countsJobStates: jobs whose labels are kept at most. A job is forgotten once this
   * process sees it end; in scale-out a pod may never see that (an API pod queues a job a
   * worker ends), so the least recently written are forgotten beyond this many. Default 10,000.
   */
  readonly maxTrackedJobs?: number;
}

const DEFAULT_MAX_TRACKED_JOBS = 10_000;

export class JobMetricsRecorder {
  /** Jobs not seen ending here, least recently written first (Map order). */
  private readonly jobs = new Map<string, TrackedJob>();
  private readonly countsJobStates: boolean;
  private readonly maxTrackedJobs: number;

  constructor(
    private readonly metrics: SteadytuneMetrics,
    private readonly options: JobMetricsRecorderOptions = {},
  ) {
    this.countsJobStates = options.countsJobStates ?? true;
    this.maxTrackedJobs = options.maxTrackedJobs ?? DEFAULT_MAX_TRACKED_JOBS;
  }

  /** Call once per newly created job, before its first event is appended. */
  jobCreated(job: Pick<Job, 'id' | 'spec'>): void {
    this.track(job);
  }

  /** Call once per job a restarted server picks up again, before its next event is appended. */
  jobResumed(job: Pick<Job, 'id' | 'spec' | 'state'>): void {
    if (this.jobs.has(job.id) || TERMINAL_STATES.has(job.state)) return;
    const tracked = this.track(job);
    if (this.countsJobStates) this.moveJob(job.id, tracked, job.state);
  }

  /** Call with every event appended to a job's log, in log order. */
  eventAppended(jobId: string, event: JobEvent): void {
    try {
      this.observe(jobId, event);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Jobs this recorder keeps labels for (for tests and leak checks). */
  get trackedJobs(): number {
    return this.jobs.size;
  }

  /** The same store, telling this recorder about every job it creates or writes. */
  observeStore(store: JobStore): JobStore {
    const written = async (writing: Promise<Job>): Promise<Job> => {
      const job = await writing;
      this.jobWritten(job);
      return job;
    };
    return {
      create: async (command, now) => {
        const result = await store.create(command, now);
        if (result.created) this.jobCreated(result.job);
        return result;
      },
      get: (tenant, jobId) => store.get(tenant, jobId),
      list: (query) => store.list(query),
      transition: (jobId, change) => written(store.transition(jobId, change)),
      putRun: (jobId, run) => written(store.putRun(jobId, run)),
      setSummary: (jobId, summary) => written(store.setSummary(jobId, summary)),
      setBackend: (jobId, backend) => written(store.setBackend(jobId, backend)),
      addNotice: (jobId, message) => written(store.addNotice(jobId, message)),
      setRuntime: (jobId, runtimeMs) => written(store.setRuntime(jobId, runtimeMs)),
      unfinished: async () => {
        // What a restart resumes: tracked from here on, as if created now, in its stored state.
        const jobs = await store.unfinished();
        for (const job of jobs) this.jobResumed(job);
        return jobs;
      },
      countActive: (tenant) => store.countActive(tenant),
      findByIdempotencyKey: (tenant, key) => store.findByIdempotencyKey(tenant, key),
    };
  }

  /** The same log, observing every append once it has its sequence number. */
  observeEventLog(log: EventLog): EventLog {
    return {
      append: async (jobId, seed, body) => {
        const event = await log.append(jobId, seed, body);
        this.eventAppended(jobId, event);
        return event;
      },
      read: (jobId, from) => log.read(jobId, from),
      lastSequence: (jobId) => log.lastSequence(jobId),
      follow: (jobId, from, signal) => log.follow(jobId, from, signal),
    };
  }

  /**
   * A write of a job, maybe one created elsewhere: its labels are known from here on. Reads are
   * not enough to track a job (an API pod reads every job it lists); writes are what precedes
   * the appends of the process working on it, the end included (a terminal transition, then
   * its event).
   */
  private jobWritten(job: Job): void {
    try {
      const known = this.jobs.get(job.id);
      if (known === undefined) {
        // Where job states are counted here, every job is created or resumed here, and a write
        // after its end must not track it again.
        if (!this.countsJobStates) this.track(job);
        return;
      }
      // Most recently written last: the oldest go first when there are too many.
      this.jobs.delete(job.id);
      this.jobs.set(job.id, known);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private track(job: Pick<Job, 'id' | 'spec'>): TrackedJob {
    const known = this.jobs.get(job.id);
    if (known !== undefined) return known;
    const tracked: TrackedJob = { method: job.spec.run.method.kind, modelFamily: job.spec.run.model.family, backends: new Map() };
    this.jobs.set(job.id, tracked);
    // Alerts use increase(), which cannot see a series' first sample: whichever process ends the
    // job (in scale-out a worker, not the API pod that queued it) has its series at 0 first.
    this.metrics.jobTracked({ method: tracked.method, modelFamily: tracked.modelFamily });
    // Where job states are counted here, every tracked job is live and its end is seen here.
    if (!this.countsJobStates) {
      for (const jobId of this.jobs.keys()) {
        if (this.jobs.size <= this.maxTrackedJobs) break;
        this.jobs.delete(jobId);
      }
    }
    return tracked;
  }

  private observe(jobId: string, event: JobEvent): void {
    const job = this.jobs.get(jobId);
    // A job this process never created nor wrote has no labels to give; it is not guessed at.
    if (job === undefined) return;
    const { body } = event;
    if (body.kind === 'run_started') job.backends.set(event.seed, body.backend);
    this.metrics.observeJobEvent(event, {
      method: job.method,
      modelFamily: job.modelFamily,
      backend: job.backends.get(event.seed) ?? 'unknown',
    });
    if (body.kind !== 'state_changed') return;
    if (this.countsJobStates) this.moveJob(jobId, job, body.state);
    if (TERMINAL_STATES.has(body.state)) this.jobs.delete(jobId);
  }

  private moveJob(jobId: string, job: TrackedJob, state: JobState): void {
    if (job.state !== undefined && LIVE_JOB_STATES.includes(job.state)) this.metrics.jobs.dec({ state: job.state });
    if (LIVE_JOB_STATES.includes(state)) this.metrics.jobs.inc({ state });
    job.state = state;
    if (TERMINAL_STATES.has(state)) this.jobs.delete(jobId);
  }
}
