// Turns the jobs layer's event log into metrics. The log is where every worker's telemetry
// lands on the main thread, so observing appends is enough: no worker touches the registry.
// The events carry no labels, so this keeps, per live job, what its series are labelled with
// (method and model family from the spec, the backend each seed reported) and its last state.
import type { BackendName } from '../engine/tf-free.js';
import type { EventLog } from '../jobs/event-log.js';
import type { JobStore } from '../jobs/store.js';
import { TERMINAL_STATES, type Job, type JobEvent, type JobState } from '../jobs/types.js';
import { LIVE_JOB_STATES, type JobMetricLabels, type SteadytuneMetrics } from './metrics.js';

interface TrackedJob {
  readonly method: JobMetricLabels['method'];
  readonly modelFamily: JobMetricLabels['modelFamily'];
  state?: JobState;
  /** Per seed: a seed may fall back to another backend than its siblings. */
  readonly backends: Map<number, BackendName>;
}

export interface JobMetricsRecorderOptions {
  /** A metrics failure must never fail a job: it is reported here and dropped. */
  readonly onError?: (error: unknown) => void;
}

export class JobMetricsRecorder {
  /** Only live jobs: an entry goes when its job's terminal state is observed. */
  private readonly jobs = new Map<string, TrackedJob>();

  constructor(
    private readonly metrics: SteadytuneMetrics,
    private readonly options: JobMetricsRecorderOptions = {},
  ) {}

  /** Call once per newly created job, before its first event is appended. */
  jobCreated(job: Pick<Job, 'id' | 'spec'>): void {
    this.jobs.set(job.id, {
      method: job.spec.run.method.kind,
      modelFamily: job.spec.run.model.family,
      backends: new Map(),
    });
  }

  /** Call once per job a restarted server picks up again, before its next event is appended. */
  jobResumed(job: Pick<Job, 'id' | 'spec' | 'state'>): void {
    if (this.jobs.has(job.id) || TERMINAL_STATES.has(job.state)) return;
    this.jobCreated(job);
    const tracked = this.jobs.get(job.id);
    if (tracked !== undefined) this.moveJob(job.id, tracked, job.state);
  }

  /** Call with every event appended to a job's log, in log order. */
  eventAppended(jobId: string, event: JobEvent): void {
    try {
      this.observe(jobId, event);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Live jobs this recorder is tracking (for tests and leak checks). */
  get trackedJobs(): number {
    return this.jobs.size;
  }

  /** The same store, telling this recorder about every job it creates. */
  observeStore(store: JobStore): JobStore {
    return {
      create: async (command, now) => {
        const result = await store.create(command, now);
        if (result.created) this.jobCreated(result.job);
        return result;
      },
      get: (tenant, jobId) => store.get(tenant, jobId),
      list: (query) => store.list(query),
      transition: (jobId, change) => store.transition(jobId, change),
      putRun: (jobId, run) => store.putRun(jobId, run),
      setSummary: (jobId, summary) => store.setSummary(jobId, summary),
      setBackend: (jobId, backend) => store.setBackend(jobId, backend),
      addNotice: (jobId, message) => store.addNotice(jobId, message),
      setRuntime: (jobId, runtimeMs) => store.setRuntime(jobId, runtimeMs),
      unfinished: async () => {
        // What a restart resumes: tracked from here on, as if created now, in its stored state.
        const jobs = await store.unfinished();
        for (const job of jobs) this.jobResumed(job);
        return jobs;
      },
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

  private observe(jobId: string, event: JobEvent): void {
    const job = this.jobs.get(jobId);
    // A job created before this recorder existed has no labels to give; it is not guessed at.
    if (job === undefined) return;
    const { body } = event;
    if (body.kind === 'run_started') job.backends.set(event.seed, body.backend);
    this.metrics.observeJobEvent(event, {
      method: job.method,
      modelFamily: job.modelFamily,
      backend: job.backends.get(event.seed) ?? 'unknown',
    });
    if (body.kind === 'state_changed') this.moveJob(jobId, job, body.state);
  }

  private moveJob(jobId: string, job: TrackedJob, state: JobState): void {
    if (job.state !== undefined && LIVE_JOB_STATES.includes(job.state)) this.metrics.jobs.dec({ state: job.state });
    if (LIVE_JOB_STATES.includes(state)) this.metrics.jobs.inc({ state });
    job.state = state;
    if (TERMINAL_STATES.has(state)) this.jobs.delete(jobId);
  }
}
